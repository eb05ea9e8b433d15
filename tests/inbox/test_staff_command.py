import io

import pytest
from django.core.management import CommandError, call_command

from inbox.models import AgentProfile, AuditEvent

pytestmark = pytest.mark.django_db


def test_it_adds_a_team_lead_with_an_audit_event(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("een lang en sterk wachtwoord\n"))

    call_command("staff", "add", "lotte", "--role", "team_lead", "--password-stdin")
    call_command("staff", "list")

    profile = AgentProfile.objects.get(user__username="lotte")
    assert profile.role == AgentProfile.Role.TEAM_LEAD
    assert profile.user.check_password("een lang en sterk wachtwoord")
    assert AuditEvent.objects.filter(action="staff.created").count() == 1
    assert "lotte\tteam_lead\toffline\tcapacity 8" in capsys.readouterr().out


def test_a_weak_password_or_a_taken_name_is_refused(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    with pytest.raises(CommandError, match="too short"):
        call_command("staff", "add", "anouk", "--password-stdin")

    monkeypatch.setattr("sys.stdin", io.StringIO("een lang en sterk wachtwoord\n"))
    call_command("staff", "add", "anouk", "--password-stdin")
    monkeypatch.setattr("sys.stdin", io.StringIO("een lang en sterk wachtwoord\n"))
    with pytest.raises(CommandError, match="exists already"):
        call_command("staff", "add", "anouk", "--password-stdin")
