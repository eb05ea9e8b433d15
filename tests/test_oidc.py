"""Single sign-on against a fake OpenID Connect provider over real HTTP (tests/oidc_provider.py).

The browser's part is played by hand: the test client asks Webcare for the login, `requests`
follows the redirect to the provider, and the provider's redirect back is fed to the client.
Webcare itself talks to the provider's token, userinfo and JWKS endpoints over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth.models import User
from django.urls import reverse

from inbox.models import AgentProfile, AuditEvent
from inbox.services import staff_member_create
from tests.oidc_provider import CLIENT_ID, FakeOIDCProvider


@pytest.fixture(scope="module")
def oidc_server() -> Iterator[FakeOIDCProvider]:
    provider = FakeOIDCProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def provider(oidc_server: FakeOIDCProvider, settings, db) -> FakeOIDCProvider:  # type: ignore[no-untyped-def]
    oidc_server.reset()
    for name, value in oidc_server.django_settings().items():
        setattr(settings, name, value)
    oidc_server.user = {
        "sub": "f1e2d3",
        "preferred_username": "sanne",
        "given_name": "Sanne",
        "family_name": "de Boer",
        "email": "sanne@demodorp.nl",
        "groups": ["webcare-medewerkers", "iedereen"],
    }
    return oidc_server


def sso_login(client, *, next_url: str = "/"):  # type: ignore[no-untyped-def]
    """Runs the authorization code flow; returns Webcare's answer to the callback."""
    start = client.get(reverse("oidc_authentication_init"), {"next": next_url})
    assert start.status_code == 302
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["Location"])
    assert back.path == reverse("oidc_authentication_callback")
    return client.get(back.path, {k: v[0] for k, v in parse_qs(back.query).items()})


def logged_in_user(client) -> User | None:  # type: ignore[no-untyped-def]
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def test_first_login_creates_the_account_with_the_role_of_the_groups(client, provider):
    response = sso_login(client, next_url="/settings/")

    assert response.status_code == 302
    assert response["Location"] == "/settings/"
    user = logged_in_user(client)
    assert user is not None
    assert (user.username, user.first_name, user.last_name, user.email) == (
        "sanne",
        "Sanne",
        "de Boer",
        "sanne@demodorp.nl",
    )
    assert not user.has_usable_password()
    assert user.agent_profile.role == AgentProfile.Role.AGENT
    login = AuditEvent.objects.get(action="auth.login")
    assert login.actor == user
    assert login.data == {"ip": "127.0.0.1", "method": "sso"}
    created = AuditEvent.objects.get(action="staff.created")
    assert created.data["user_id"] == user.pk
    # Webcare sent the PKCE verifier and its client credentials to the token endpoint.
    assert provider.token_requests[0]["client_id"] == CLIENT_ID
    assert provider.token_requests[0]["code_verifier"]


def test_the_highest_role_among_the_groups_wins(client, provider):
    provider.user["groups"] = ["webcare-stagiairs", "webcare-teamleiders", "webcare-medewerkers"]

    sso_login(client)

    assert logged_in_user(client).agent_profile.role == AgentProfile.Role.TEAM_LEAD


def test_the_role_follows_the_groups_at_the_next_login_and_is_audited(client, provider):
    sso_login(client)
    client.post(reverse("logout"))
    provider.user["groups"] = ["webcare-beheer"]
    provider.user["family_name"] = "Jansen-de Boer"

    sso_login(client)

    user = logged_in_user(client)
    assert user.agent_profile.role == AgentProfile.Role.ADMINISTRATOR
    assert user.last_name == "Jansen-de Boer"
    changed = AuditEvent.objects.get(action="staff.role_changed")
    assert changed.data == {
        "user_id": user.pk,
        "role": "administrator",
        "previous_role": "agent",
        "source": "sso",
    }
    assert User.objects.filter(username="sanne").count() == 1


def test_an_existing_local_account_is_matched_by_username_case_insensitively(client, provider):
    existing = staff_member_create(username="Sanne", password="a-local-password-1234")
    provider.user["groups"] = ["webcare-teamleiders"]

    sso_login(client)

    assert logged_in_user(client) == existing.user
    existing.refresh_from_db()
    assert existing.role == AgentProfile.Role.TEAM_LEAD


def test_someone_in_no_webcare_group_is_refused_with_a_reason_and_audited(
    client, provider, settings
):
    provider.user["groups"] = ["iedereen"]
    # The refusal is put in the session in the language of the request that made it.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = sso_login(client)

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert logged_in_user(client) is None
    assert not User.objects.filter(username="sanne").exists()
    refused = AuditEvent.objects.get(action="auth.login_failed")
    assert refused.data == {
        "user_id": None,
        "ip": "127.0.0.1",
        "method": "sso",
        "reason": "no_role",
    }
    page = client.get(response["Location"]).content.decode()
    assert "You are not in any of the Webcare groups of your organisation." in page


def test_an_existing_account_that_left_the_groups_is_refused_but_kept(client, provider):
    sso_login(client)
    client.post(reverse("logout"))
    provider.user["groups"] = []

    sso_login(client)

    assert logged_in_user(client) is None
    user = User.objects.get(username="sanne")
    assert user.is_active
    assert user.agent_profile.role == AgentProfile.Role.AGENT
    refused = AuditEvent.objects.get(action="auth.login_failed")
    assert refused.data["user_id"] == user.pk


def test_a_switched_off_account_cannot_log_in_through_the_provider(client, provider):
    existing = staff_member_create(username="sanne", password=None)
    User.objects.filter(pk=existing.user_id).update(is_active=False)

    sso_login(client)

    assert logged_in_user(client) is None
    assert AuditEvent.objects.get(action="auth.login_failed").data["reason"] == "inactive"


def test_no_account_is_created_when_creating_users_is_off(client, provider, settings):
    settings.OIDC_CREATE_USERS = False

    sso_login(client)

    assert logged_in_user(client) is None
    assert not User.objects.filter(username="sanne").exists()
    assert AuditEvent.objects.get(action="auth.login_failed").data["reason"] == "unknown_user"


@pytest.mark.parametrize(
    "misbehaviour",
    [
        {"sign_with_other_key": True},
        {"nonce_override": "not-the-nonce-webcare-sent"},
        {"audience_override": "another-application"},
        {"id_token_lifetime": -60},
        {"userinfo_sub_override": "someone-else"},
    ],
    ids=["wrong-signature", "wrong-nonce", "wrong-audience", "expired", "userinfo-of-another"],
)
def test_a_forged_id_token_is_refused(client, provider, misbehaviour):
    for name, value in misbehaviour.items():
        setattr(provider, name, value)

    response = sso_login(client)

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert logged_in_user(client) is None
    assert not User.objects.filter(username="sanne").exists()
    assert AuditEvent.objects.get(action="auth.login_failed").data["reason"] == "invalid_token"


def test_without_a_userinfo_endpoint_the_id_token_s_claims_decide(client, provider, settings):
    # As with Entra ID, whose userinfo endpoint does not send the groups.
    settings.OIDC_OP_USER_ENDPOINT = ""
    provider.user["groups"] = ["webcare-stagiairs"]

    sso_login(client)

    assert logged_in_user(client).agent_profile.role == AgentProfile.Role.TRAINEE


def test_the_username_falls_back_to_the_email_address(client, provider):
    del provider.user["preferred_username"]

    sso_login(client)

    assert logged_in_user(client).username == "sanne@demodorp.nl"


def test_someone_without_a_username_or_email_claim_is_refused(client, provider):
    del provider.user["preferred_username"]
    del provider.user["email"]

    sso_login(client)

    assert logged_in_user(client) is None
    assert AuditEvent.objects.get(action="auth.login_failed").data["reason"] == "no_username"


def test_an_id_token_from_another_issuer_is_refused(client, provider, settings):
    settings.OIDC_OP_ISSUER = "https://login.example.org/other-tenant"

    sso_login(client)

    assert logged_in_user(client) is None
    assert AuditEvent.objects.get(action="auth.login_failed").data["reason"] == "invalid_token"


def test_a_callback_with_a_state_this_session_never_sent_is_refused(client, provider):
    start = client.get(reverse("oidc_authentication_init"))
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=5)
    query = {k: v[0] for k, v in parse_qs(urlsplit(at_provider.headers["Location"]).query).items()}
    query["state"] = "forged-state"

    response = client.get(reverse("oidc_authentication_callback"), query)

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert logged_in_user(client) is None
    assert AuditEvent.objects.get(action="auth.login_failed").data["reason"] == "invalid_state"


def test_a_callback_without_any_login_started_is_refused(client, provider):
    response = client.get(
        reverse("oidc_authentication_callback"), {"code": "stolen", "state": "stolen"}
    )

    assert response["Location"] == reverse("login")
    assert logged_in_user(client) is None
    assert provider.token_requests == []


def test_the_login_page_offers_the_provider_above_the_password_form(client, provider):
    page = client.get(reverse("login"), {"next": "/settings/"}).content.decode()

    assert "Demodorp ID" in page
    assert f'href="{reverse("oidc_authentication_init")}?next=/settings/"' in page
    assert page.index("Demodorp ID") < page.index('name="password"')


def test_with_local_login_off_only_the_provider_is_offered(client, provider, settings):
    settings.WEBCARE_LOCAL_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = ["webcare.oidc.OIDCBackend"]
    staff_member_create(username="anouk", password="correct horse battery staple")

    page = client.get(reverse("login")).content.decode()
    posted = client.post(
        reverse("login"), {"username": "anouk", "password": "correct horse battery staple"}
    )

    assert "Demodorp ID" in page
    assert 'name="password"' not in page
    assert posted.status_code == 405
    assert not client.login(username="anouk", password="correct horse battery staple")
    assert sso_login(client).status_code == 302
    assert logged_in_user(client).username == "sanne"


def test_logout_ends_the_session_at_the_provider_when_it_has_an_end_session_endpoint(
    client, provider, settings
):
    settings.OIDC_OP_LOGOUT_ENDPOINT = f"{provider.url}/logout"
    settings.OIDC_STORE_ID_TOKEN = True
    sso_login(client)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{provider.url}/logout"
    query = parse_qs(location.query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/login/"]
    assert query["id_token_hint"][0].count(".") == 2
    assert logged_in_user(client) is None
    assert AuditEvent.objects.filter(action="auth.logout").count() == 1


def test_a_password_login_logs_out_only_of_webcare(client, provider, settings):
    settings.OIDC_OP_LOGOUT_ENDPOINT = f"{provider.url}/logout"
    staff_member_create(username="anouk", password="correct horse battery staple")
    client.post(reverse("login"), {"username": "anouk", "password": "correct horse battery staple"})

    response = client.post(reverse("logout"))

    assert response["Location"] == reverse("login")


def test_without_configuration_there_is_no_single_sign_on(client, db, settings):
    settings.WEBCARE_OIDC_ENABLED = False

    page = client.get(reverse("login")).content.decode()

    assert "/oidc/" not in page
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/", {"code": "x", "state": "y"}).status_code == 404


def start_django(code: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """A fresh process with these environment variables, as tests/test_settings.py does."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OIDC_")}
    clean.pop("WEBCARE_LOCAL_LOGIN", None)
    clean.update({"DJANGO_SETTINGS_MODULE": "webcare.settings", **env})
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


SSO_ENVIRONMENT = {
    "OIDC_RP_CLIENT_ID": CLIENT_ID,
    "OIDC_RP_CLIENT_SECRET": "secret",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://id.demodorp.nl/authorize",
    "OIDC_OP_TOKEN_ENDPOINT": "https://id.demodorp.nl/token",
    "OIDC_OP_JWKS_ENDPOINT": "https://id.demodorp.nl/jwks",
    "OIDC_ROLE_GROUPS": "administrator=webcare-beheer, agent=webcare-medewerkers,agent=extern",
}


def test_single_sign_on_is_configured_from_the_environment():
    result = start_django(
        "from django.conf import settings as s; "
        "print(s.AUTHENTICATION_BACKENDS, s.OIDC_ROLE_GROUPS, s.OIDC_RP_SIGN_ALGO)",
        DEBUG="1",
        WEBCARE_LOCAL_LOGIN="false",
        **SSO_ENVIRONMENT,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "['webcare.oidc.OIDCBackend'] "
        "{'administrator': ['webcare-beheer'], 'agent': ['webcare-medewerkers', 'extern']} RS256"
    )


@pytest.mark.parametrize(
    ("environment", "error"),
    [
        (
            {**SSO_ENVIRONMENT, "OIDC_OP_TOKEN_ENDPOINT": ""},
            "single sign-on also needs OIDC_OP_TOKEN_ENDPOINT",
        ),
        ({**SSO_ENVIRONMENT, "OIDC_ROLE_GROUPS": "boss=webcare-beheer"}, "OIDC_ROLE_GROUPS item"),
        ({**SSO_ENVIRONMENT, "OIDC_ROLE_GROUPS": ""}, "Single sign-on needs OIDC_ROLE_GROUPS"),
        ({"WEBCARE_LOCAL_LOGIN": "false"}, "WEBCARE_LOCAL_LOGIN=false needs single sign-on"),
    ],
    ids=["missing-endpoint", "unknown-role", "no-groups", "nobody-could-log-in"],
)
def test_an_incomplete_single_sign_on_configuration_refuses_to_start(environment, error):
    result = start_django(DEBUG="1", **environment)

    assert result.returncode != 0
    assert error in result.stderr
