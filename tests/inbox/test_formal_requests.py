"""inbox/formal_requests.py on a labelled corpus: never a false alarm, few misses; and the
suggested answers that point citizens to the official route (inbox/guards.py)."""

from __future__ import annotations

import pytest
from django.utils import translation

from inbox import guards
from inbox.formal_requests import KINDS, find_formal_requests
from tests.inbox.personal_data_corpus import FORMAL_REQUESTS
from tests.inbox.test_personal_data_corpus import report, scores


def test_the_corpus_has_enough_positive_and_negative_sentences():
    assert sum(1 for _text, kinds in FORMAL_REQUESTS if kinds) >= 30
    assert sum(1 for _text, kinds in FORMAL_REQUESTS if not kinds) >= 30


def test_formal_requests_are_found_with_full_precision_and_high_recall_on_the_corpus():
    figures = scores(FORMAL_REQUESTS, KINDS, find_formal_requests)
    report("formal requests, per kind:", figures)
    for kind, (precision, recall, *_counts) in figures.items():
        assert precision == 1.0, kind
        assert recall >= 0.9, kind


@pytest.mark.parametrize(("text", "expected"), FORMAL_REQUESTS)
def test_no_corpus_sentence_raises_a_false_alarm(text: str, expected: list[str]):
    assert set(find_formal_requests(text)) <= set(expected)


@pytest.mark.parametrize(
    "text",
    [
        "ik wil geen klacht indienen",
        "we don't want to file a complaint",
        "Ik maak geen bezwaar",
        "geen klachten!",
    ],
)
def test_a_negation_in_the_same_clause_cancels_the_request(text: str):
    assert find_formal_requests(text) == []


def test_the_kinds_come_in_a_fixed_order_once_each():
    text = "Ik wil een klacht indienen. Ik maak bezwaar. Ik maak nogmaals bezwaar."
    assert find_formal_requests(text) == ["objection", "complaint"]


@pytest.mark.django_db
def test_the_suggested_answers_are_filled_with_the_citizens_name_and_the_municipality(
    settings, agent
):
    from inbox.models import Contact

    settings.WEBCARE_MUNICIPALITY_NAME = "Gemeente Testdorp"
    settings.WEBCARE_FORMAL_REQUEST_URL = "https://testdorp.nl/bezwaar"
    settings.WEBCARE_CONTACT_URL = "https://testdorp.nl/contact"
    contact = Contact(display_name="Els de Vries", username="els")
    keys = [guards.PERSONAL_DATA_SUGGESTION, "objection", "woo_request"]

    with translation.override("nl"):
        suggestions = guards.suggestions_for(keys=keys, contact=contact, agent=agent.user)

    texts = {suggestion.key: suggestion.text for suggestion in suggestions}
    assert list(texts) == keys
    assert "Els de Vries" in texts["objection"]
    assert "https://testdorp.nl/bezwaar" in texts["objection"]
    assert "Gemeente Testdorp" in texts["woo_request"]
    assert "https://testdorp.nl/contact" in texts[guards.PERSONAL_DATA_SUGGESTION]
    assert all("{{" not in text for text in texts.values())
