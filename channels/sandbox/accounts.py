"""The one X account the sandbox hosts, its credentials, and stable ids for citizens."""

from __future__ import annotations

import hashlib
from typing import Final

DEMO_ACCOUNT_ID: Final = "1600000000000000001"
DEMO_USERNAME: Final = "gemeentedemodorp"
DEMO_NAME: Final = "Gemeente Demodorp"

# The same three keys X returns for GET /2/users/me; copies are handed out so a caller
# cannot change the sandbox's notion of its own account by mutating the dict.
DEMO_ACCOUNT: Final = {"id": DEMO_ACCOUNT_ID, "name": DEMO_NAME, "username": DEMO_USERNAME}

# Fixed, public, made-up values: they only unlock this local sandbox. The keys match the
# keyword arguments of tweepy.Client so a test can write tweepy.Client(**DEMO_CREDENTIALS).
DEMO_CREDENTIALS: Final = {
    "bearer_token": "sandbox-bearer-token",
    "consumer_key": "sandbox-consumer-key",
    "consumer_secret": "sandbox-consumer-secret",
    "access_token": "sandbox-access-token",
    "access_token_secret": "sandbox-access-token-secret",
}

# Citizen ids live in their own band of 19-digit numbers, so they look like modern X user
# ids and can never collide with the demo account (which sits at 1.6e18).
_CITIZEN_ID_BASE = 1_300_000_000_000_000_000
_CITIZEN_ID_SPAN = 100_000_000_000_000_000


def stable_user_id(username: str) -> str:
    """Return the same numeric id for a username every time, across resets and restarts.

    Derived from a hash instead of a counter so that tests, the generator and a persisted
    state file all agree on who is who without sharing a lookup table. X usernames are
    case-insensitive, hence the lower-casing.
    """
    digest = hashlib.sha256(username.lower().encode("utf-8")).digest()
    return str(_CITIZEN_ID_BASE + int.from_bytes(digest[:8], "big") % _CITIZEN_ID_SPAN)


# The same municipality on the sandbox Mastodon instance (served under /api/v1/ and
# /api/v2/ by the same server). Its own id band, so that it is never mistaken for X's.
MASTODON_ACCOUNT_ID: Final = "110000000000000001"
MASTODON_DOMAIN: Final = "social.demodorp.nl"
# The only credential a Mastodon channel needs: an access token with read and write scopes.
MASTODON_CREDENTIALS: Final = {"access_token": "sandbox-mastodon-access-token"}
