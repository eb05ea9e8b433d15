"""Channel credentials are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The keys come from settings.CREDENTIALS_KEYS; a MultiFernet lets operators rotate keys:
the first key encrypts, every key decrypts.
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from channels.base import AuthenticationFailed


class CredentialsError(AuthenticationFailed):
    """The stored credentials cannot be decrypted (wrong or rotated-out key) or parsed.

    An authentication failure to the rest of the system: the channel is marked failing with
    this message, where an admin sees it, instead of crashing the poll.
    """


def _fernet_for(key_material: str) -> Fernet:
    # Accept either a real Fernet key or any passphrase (hashed to 32 bytes), so that
    # operators can use the SECRET_KEY-derived default or `Fernet.generate_key()` output.
    try:
        return Fernet(key_material.encode())
    except ValueError:
        digest = hashlib.sha256(key_material.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))


def _multi_fernet() -> MultiFernet:
    return MultiFernet([_fernet_for(key) for key in settings.CREDENTIALS_KEYS])


def encrypt_credentials(credentials: dict[str, str]) -> str:
    return _multi_fernet().encrypt(json.dumps(credentials).encode()).decode()


def decrypt_credentials(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        plain = _multi_fernet().decrypt(token.encode())
    except InvalidToken as error:
        raise CredentialsError(
            "The channel's credentials cannot be decrypted with the configured CREDENTIALS_KEY."
        ) from error
    try:
        credentials = json.loads(plain)
    except ValueError as error:
        raise CredentialsError("The channel's decrypted credentials are not valid JSON.") from error
    if not isinstance(credentials, dict):
        raise CredentialsError("The channel's credentials are not a key/value mapping.")
    return {str(key): str(value) for key, value in credentials.items()}
