"""The system checks of settings combinations (inbox/checks.py)."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from inbox.checks import check_stuck_sending_threshold


def test_the_default_stuck_threshold_is_far_above_the_platform_timeout(settings):
    assert check_stuck_sending_threshold() == []


def test_a_stuck_threshold_close_to_the_platform_timeout_is_warned_about(settings):
    settings.WEBCARE_PLATFORM_TIMEOUT = 15
    settings.WEBCARE_STUCK_SENDING_SECONDS = 30
    [warning] = check_stuck_sending_threshold()
    assert warning.id == "webcare.W001"
    assert "at least 60" in warning.hint
    with pytest.raises(SystemCheckError, match=r"webcare\.W001"):
        call_command("check", fail_level="WARNING")
