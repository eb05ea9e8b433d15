from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from channels.views import facebook_webhook
from webcare.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # By channel name, not id: the name is what admins see in `channels list`, and the
    # callback URL typed into Meta's dashboard stays valid when the database is rebuilt.
    path("webhooks/facebook/<slug:channel_name>/", facebook_webhook, name="facebook_webhook"),
    # The REST API, its OpenAPI schema and docs (docs/architecture.md, "REST API").
    path("api/", include("inbox.api.urls")),
    path("", include("inbox.urls")),
]
