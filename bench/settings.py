"""Production settings for the benchmark suite's processes (`python -m bench`).

Everything comes from webcare/settings.py with DEBUG off, as in production, except:

- the URL configuration adds one trivial page (bench/urls.py), the baseline that every
  page's server time is compared against;
- static files are served by name, without collectstatic's manifest (and without its
  directory): the benchmark never fetches them, and collecting and compressing them would
  take half a minute of the run.
"""

import warnings

from webcare.settings import *  # noqa: F403
from webcare.settings import STORAGES

# WhiteNoise warns, in every process, that collectstatic's directory does not exist: nothing
# is served from it here.
warnings.filterwarnings("ignore", message="No directory at")

ROOT_URLCONF = "bench.urls"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
