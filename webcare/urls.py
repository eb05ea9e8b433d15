from django.contrib import admin
from django.urls import include, path

from channels.views import facebook_webhook
from webcare import login, oidc
from webcare.views import healthz, readyz

urlpatterns = [
    # Liveness and readiness probes (webcare/views.py); exempt from the https redirect.
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # Password login (throttled) and single sign-on (docs/architecture.md, "Logging in").
    path("login/", login.LoginView.as_view(), name="login"),
    path("logout/", login.LogoutView.as_view(), name="logout"),
    path(
        "oidc/authenticate/",
        oidc.sso_only(oidc.AuthenticationRequestView.as_view()),
        name="oidc_authentication_init",
    ),
    path(
        "oidc/callback/",
        oidc.sso_only(oidc.CallbackView.as_view()),
        name="oidc_authentication_callback",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # By channel name, not id: the name is what admins see in `channels list`, and the
    # callback URL typed into Meta's dashboard stays valid when the database is rebuilt.
    path("webhooks/facebook/<slug:channel_name>/", facebook_webhook, name="facebook_webhook"),
    # The REST API, its OpenAPI schema and docs (docs/architecture.md, "REST API").
    path("api/", include("inbox.api.urls")),
    path("", include("inbox.urls")),
]
