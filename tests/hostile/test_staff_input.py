"""What staff type goes through the same hostile corpus: a NUL or half an emoji in a tag,
a note or a flagged word is cleaned or refused, never a server error; markup stays text."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inbox.models import FlaggedWord, Note, Tag
from tests.hostile.payloads import BY_ID
from tests.inbox.helpers import citizen_writes

pytestmark = pytest.mark.django_db

NUL = BY_ID["control-01"].text


@pytest.fixture
def conversation(channel):  # type: ignore[no-untyped-def]
    return citizen_writes(channel, text="Hallo", username="els")


def test_a_tag_with_a_nul_is_stored_without_it(logged_in, team_lead, conversation) -> None:
    typed = NUL
    client = logged_in(team_lead)
    response = client.post(
        reverse("inbox:conversation_tag", args=[conversation.id]), {"name": typed[:40]}
    )

    assert response.status_code in {200, 302}
    [tag] = Tag.objects.all()
    assert "\x00" not in tag.name
    assert tag.name.startswith(typed[:3])


def test_a_note_with_a_nul_is_stored_without_it(logged_in, team_lead, conversation) -> None:
    typed = NUL
    client = logged_in(team_lead)
    response = client.post(reverse("inbox:note_create", args=[conversation.id]), {"text": typed})

    assert response.status_code in {200, 302}
    [note] = Note.objects.all()
    assert "\x00" not in note.text
    assert note.text.startswith(typed[:3])


def test_a_flagged_word_with_a_nul_is_cleaned_or_refused(logged_in, team_lead) -> None:
    client = logged_in(team_lead)
    response = client.post(reverse("inbox:flagged_word_add"), {"word": "schade\x00vergoeding"})

    assert response.status_code in {200, 302}
    assert [word for word in FlaggedWord.objects.values_list("word", flat=True)] in (
        [],
        ["schadevergoeding"],
    )


def test_a_note_full_of_markup_is_shown_as_text(logged_in, team_lead, conversation) -> None:
    client = logged_in(team_lead)
    typed = BY_ID["script-01"].text + " " + BY_ID["url-05"].text
    client.post(reverse("inbox:note_create", args=[conversation.id]), {"text": typed})

    page = client.get(reverse("inbox:conversation", args=[conversation.id])).content.decode()

    assert "&lt;script&gt;window.__xss(&#x27;script-01&#x27;)&lt;/script&gt;" in page
    assert "<script>window.__xss" not in page
    assert 'href="javascript:' not in page
