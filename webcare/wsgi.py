"""WSGI entry point (gunicorn in production; runserver uses it too)."""

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webcare.settings")

application = get_wsgi_application()

# Build mode gives every process its own throwaway SECRET_KEY (webcare/settings.py): fine
# for collectstatic, but a server with it would log everyone out at each restart and could
# not decrypt channel credentials. Refuse before serving anything.
if settings.WEBCARE_ENV == "build":
    raise ImproperlyConfigured(
        "WEBCARE_ENV=build is only for building the image (collectstatic); "
        "unset it, or set WEBCARE_ENV=production, to serve."
    )
