"""Which words of a citizen message count as its terms (inbox/metrics/terms.py)."""

from __future__ import annotations

import pytest

from inbox.metrics.terms import STOP_WORDS, TermCounter, _without_personal_data, own_words

COUNTER = TermCounter(own_words(["@gemeentedemodorp"], "Gemeente Demodorp"))


def test_it_lowercases_and_keeps_accents() -> None:
    assert COUNTER.terms("Het Café bij de Brug is GEÏNDEXEERD") == {"café", "brug", "geïndexeerd"}


def test_it_splits_on_non_word_characters() -> None:
    assert COUNTER.terms("grof-vuil/container,lantaarnpaal!kapot") == {
        "grof",
        "vuil",
        "container",
        "lantaarnpaal",
        "kapot",
    }


def test_it_drops_dutch_and_english_stop_words_and_short_words() -> None:
    text = "Ik heb het niet gedaan, the container is not here. Op de hoek ff kijken"
    assert COUNTER.terms(text) == {"container", "hoek", "kijken"}


def test_the_stop_word_list_has_about_two_hundred_common_words() -> None:
    assert len(STOP_WORDS) >= 200
    assert {"de", "het", "een", "en", "van", "ik", "je", "niet", "the", "and", "gemeente"} <= (
        STOP_WORDS
    )


def test_it_drops_the_municipalitys_own_name_and_handle_as_words_and_hashtags() -> None:
    text = "Gemeente Demodorp, gemeentedemodorp #gemeentedemodorp #Demodorp afval"
    assert COUNTER.terms(text) == {"afval"}


def test_own_words_come_from_handles_of_any_platform_and_the_name() -> None:
    assert own_words(["@stad", "stad_nl@social.overheid.nl", ""], "Gemeente Den Bosch") == {
        "stad",
        "stad_nl",
        "gemeente",
        "den",
        "bosch",
    }


def test_it_drops_mentions_including_mastodon_handles() -> None:
    text = "@burger en @buurman@mastodon.social melden overlast"
    assert COUNTER.terms(text) == {"melden", "overlast"}


def test_it_drops_urls() -> None:
    text = "Kalender: https://www.demodorp.nl/afvalkalender?wijk=noord en www.voorbeeld.nl/pagina"
    assert COUNTER.terms(text) == {"kalender"}


def test_it_drops_numbers_and_words_starting_with_a_digit() -> None:
    assert COUNTER.terms("Al 3 weken 12a 2024 1e keer covid19") == {"weken", "covid19"}


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("Mail me op jan.jansen@example.nl graag", {"jan", "jansen", "example"}),
        ("Mijn rekening NL91ABNA0417164300 klopt niet", {"nl91abna0417164300"}),
        ("Mijn rekening NL91 ABNA 0417 1643 00 klopt niet", {"abna"}),
        ("Ik woon op de Kerkstraat 12a in Demodorp", {"kerkstraat"}),
        ("Bel 06-12345678 of postcode 1234 AB", {"1234"}),
        ("Mijn BSN is 111222333, help", {"111222333"}),
    ],
)
def test_it_drops_what_personal_data_flags(text: str, leaked: set[str]) -> None:
    assert not COUNTER.terms(text) & leaked


def test_the_quick_check_gives_the_same_text_as_the_full_personal_data_check() -> None:
    texts = [
        "Bel 06-12345678 of 020 123 4567, postcode 1234 AB, BSN 111222333",
        "IBAN NL91ABNA0417164300 en mail jan@example.nl",
        "Kerkstraat 12 en Dorpsweg 3-2 en onderweg 2 uur",
        "gewoon een bericht zonder iets",
        "om 12:30 op 01-02-2024 zaaknummer 123456789",
    ]
    for text in texts:
        checked = _without_personal_data(text, always_check=True)
        assert COUNTER.terms(text) == COUNTER.terms(checked), text


def test_it_keeps_hashtags_as_hashtag_terms_next_to_words() -> None:
    assert COUNTER.terms("#Afval en afval, #OV a#b #2024 #_ #x") == {
        "#afval",
        "afval",
        "#ov",
    }


def test_a_message_counts_a_term_once_and_citizens_are_distinct() -> None:
    counts = COUNTER.count(
        [
            ("afval afval AFVAL #afval", 1),
            ("weer afval", 1),
            ("afval op straat", 2),
            ("geen auteur: afval", None),
        ]
    )
    assert counts["afval"].messages == 4
    assert counts["afval"].authors == {1, 2}
    assert counts["#afval"].messages == 1
    assert counts["#afval"].is_hashtag
    assert not counts["straat"].is_hashtag
