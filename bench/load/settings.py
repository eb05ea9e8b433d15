"""Production settings for the load test's processes, with one difference: static files.

Everything comes from webcare/settings.py with DEBUG off, as in production. Only the static
files are collected into the run's own temporary directory (LOAD_STATIC_ROOT), not into the
checkout's staticfiles/, and without the gzip/brotli copies: compressing them takes half a
minute on two cores, and the simulated agents never fetch static files (a browser keeps
them in its cache for the whole shift). The hashed names of the manifest stay, so every
page renders exactly as in production.
"""

import os
from pathlib import Path

from webcare.settings import *  # noqa: F403
from webcare.settings import STORAGES

STATIC_ROOT = Path(os.environ["LOAD_STATIC_ROOT"])
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
