"""The application's URLs plus the baseline page of the page benchmark (bench/pages.py).

The trivial page goes through the same middleware as every real page (session, login,
CSRF, security headers, the CSP, locale) and reads the logged-in user, so the ratio of a
page to it is what the page itself costs: its queries and its template.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from webcare.urls import urlpatterns as application_urlpatterns

TRIVIAL_PATH = "/_bench/trivial/"


@login_required
def trivial_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"ok {request.user.pk}", content_type="text/plain")


urlpatterns = [
    path(TRIVIAL_PATH.strip("/") + "/", trivial_page, name="bench-trivial"),
    *application_urlpatterns,
]
