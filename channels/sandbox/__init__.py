"""A local sandbox of the X (Twitter) API v2, for tests, demos and development.

Start it from Python with ``SandboxServer(...).start()`` or from a shell with
``python -m channels.sandbox``. It imports neither Django nor tweepy.
"""

from channels.sandbox.accounts import (
    DEMO_ACCOUNT,
    DEMO_ACCOUNT_ID,
    DEMO_CREDENTIALS,
    DEMO_NAME,
    DEMO_USERNAME,
)
from channels.sandbox.server import SandboxServer

__all__ = [
    "DEMO_ACCOUNT",
    "DEMO_ACCOUNT_ID",
    "DEMO_CREDENTIALS",
    "DEMO_NAME",
    "DEMO_USERNAME",
    "SandboxServer",
]
