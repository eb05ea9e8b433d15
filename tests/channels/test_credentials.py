import pytest

from channels.credentials import CredentialsError, decrypt_credentials, encrypt_credentials


def test_credentials_survive_a_key_rotation(settings):
    settings.CREDENTIALS_KEYS = ["old-key"]
    token = encrypt_credentials({"bearer_token": "geheim"})

    settings.CREDENTIALS_KEYS = ["new-key", "old-key"]
    assert decrypt_credentials(token) == {"bearer_token": "geheim"}
    assert "geheim" not in token


def test_a_missing_key_is_a_clear_error_not_garbage(settings):
    settings.CREDENTIALS_KEYS = ["old-key"]
    token = encrypt_credentials({"bearer_token": "geheim"})

    settings.CREDENTIALS_KEYS = ["new-key"]
    with pytest.raises(CredentialsError, match="CREDENTIALS_KEY"):
        decrypt_credentials(token)
