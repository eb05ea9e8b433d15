"""inbox/personal_data.py: what looks like personal data in a public reply, and what does not.

EXAMPLES is shared with the browser test, which runs the JavaScript twin
(static/js/webcare.js) on the same texts and expects the same findings.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from inbox.personal_data import (
    bsn_is_valid,
    find_personal_data,
    iban_is_valid,
    kinds_found,
)

# (text, kinds found in text order). Real-world spellings as agents and citizens write them.
EXAMPLES: list[tuple[str, list[str]]] = [
    # Phone numbers: mobile, landline, international, in every grouping.
    ("Bel me op 06-12345678", ["phone"]),
    ("Mijn nummer: 0612345678.", ["phone"]),
    ("06 12 34 56 78", ["phone"]),
    ("06-12 34 56 78", ["phone"]),
    ("06 1234 5678", ["phone"]),
    ("+31 6 12345678", ["phone"]),
    ("+31612345678", ["phone"]),
    ("+31 (0)6-1234 5678", ["phone"]),
    ("0031 6 12 34 56 78", ["phone"]),
    ("020-1234567", ["phone"]),
    ("020 123 4567", ["phone"]),
    ("(020) 123 4567", ["phone"]),
    ("0111-123456", ["phone"]),
    ("+31 20 123 4567", ["phone"]),
    ("tel:0612345678", ["phone"]),
    # BSN (elfproef), with and without separators.
    ("Mijn BSN is 123456782", ["bsn"]),
    ("BSN: 1234.56.782", ["bsn"]),
    ("bsn 123 456 782", ["bsn"]),
    ("burgerservicenummer 111222333.", ["bsn"]),
    # IBAN (mod 97).
    ("IBAN NL91ABNA0417164300 graag", ["iban"]),
    ("NL91 ABNA 0417 1643 00", ["iban"]),
    ("nl91abna0417164300", ["iban"]),
    ("Belgisch: BE68 5390 0754 7034", ["iban"]),
    ("DE89 3704 0044 0532 0130 00", ["iban"]),
    # E-mail addresses.
    ("Mail jan.jansen@example.nl.", ["email"]),
    ("j.de-vries+gemeente@mail.co.uk", ["email"]),
    ("Stuur het naar INFO@Voorbeeld.NL", ["email"]),
    # Addresses: street and house number, postcode.
    ("Kerkstraat 12, 1234 AB Demodorp", ["address", "postcode"]),
    ("Dorpsweg 3a", ["address"]),
    ("op de Stationslaan 45-2", ["address"]),
    ("Oudegracht 231 B", ["address"]),
    ("Postcode 3511AB", ["postcode"]),
    ("wonend aan de Julianaplein 1", ["address"]),
    # Several at once.
    (
        "Els de Vries, Kerkstraat 12, 06-12345678, els@example.nl",
        ["address", "phone", "email"],
    ),
    # Not personal data: ordinary replies.
    ("Dank je, we sturen vandaag een monteur.", []),
    ("De container wordt op 01-02-2024 om 10:30 uur geleegd.", []),
    ("Afspraak op 12-05-2025 14:00", []),
    ("Tussen 08:30 en 17:00 zijn we bereikbaar.", []),
    ("Je zaaknummer is 2024-123456.", []),
    ("Ordernummer #123456782 en ORD-2024-001234", []),
    ("bestelnummer 1234567890", []),
    ("Zaaknummer 540503149 is afgehandeld.", []),
    ("order 123456782", []),
    ("Kenmerk: 0612345678", []),
    ("je melding nr. 111222333", []),
    ("Zie https://x.com/gemeente/status/1790012345678901234", []),
    ("Lees www.demodorp.nl/afval?bsn=123456782 voor meer", []),
    ("tweet 1790012345678901234", []),
    ("@burger@mastodon.social bedankt voor je melding!", []),
    ("Bel gratis 0800-1234567 of 14 020.", []),
    ("Service: 0900-1234567", []),
    ("We zijn onderweg, over 2 uur zijn we er.", []),
    ("We zijn onderweg 2 uur", []),
    ("De vergadering duurt 2 uur.", []),
    ("In Amsterdam 3 keer per week.", []),
    ("Het kost € 123.456.789 per jaar.", []),
    ("Versie 1.2.3 van de app, 25% korting.", []),
    ("In 2024 hebben we 1500 meldingen gehad.", []),
    ("Het aantal is 123456789.", []),
    ("Nummer 0123456 is te kort voor een telefoonnummer.", []),
    ("^AJ", []),
]


@pytest.mark.parametrize(("text", "kinds"), EXAMPLES, ids=[text for text, _ in EXAMPLES])
def test_it_finds_what_looks_like_personal_data_and_nothing_else(text: str, kinds: list[str]):
    assert [finding.kind for finding in find_personal_data(text)] == kinds


def test_a_finding_has_its_span_and_a_shortened_form_for_messages():
    text = "Bel me op 06-12345678 graag"
    [finding] = find_personal_data(text)

    assert text[finding.start : finding.end] == "06-12345678" == finding.text
    assert finding.shown == "06-12…"


def test_the_kinds_found_are_listed_once_each_in_a_fixed_order():
    findings = find_personal_data("06-12345678 en 020-1234567, mail a@b.nl")

    assert kinds_found(findings) == ["email", "phone"]


def _bsn_check_digit(first_eight: str) -> int:
    return (
        sum(weight * int(digit) for weight, digit in zip(range(9, 1, -1), first_eight, strict=True))
        % 11
    )


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
@example("12345678")
def test_every_nine_digit_number_passing_the_elfproef_is_found_as_a_bsn(first_eight: str):
    check = _bsn_check_digit(first_eight)
    assume(check < 10 and first_eight + str(check) != "0" * 9)
    bsn = first_eight + str(check)

    assert bsn_is_valid(bsn)
    assert [f.kind for f in find_personal_data(f"Mijn BSN is {bsn}, klopt dat?")] == ["bsn"]


@given(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.integers(min_value=0, max_value=8),
    st.integers(min_value=1, max_value=9),
)
def test_a_bsn_with_one_digit_changed_fails_the_elfproef(
    first_eight: str, position: int, delta: int
):
    check = _bsn_check_digit(first_eight)
    assume(check < 10)
    digits = first_eight + str(check)
    changed = digits[:position] + str((int(digits[position]) + delta) % 10) + digits[position + 1 :]

    assert not bsn_is_valid(changed)
    assert find_personal_data(f"nummer {changed}") == []


def _nl_iban(bank: str, account: str) -> str:
    """An NL IBAN with correct check digits (ISO 13616)."""
    rearranged = f"{bank}{account}NL00"
    number = int("".join(str(int(character, 36)) for character in rearranged))
    return f"NL{98 - number % 97:02d}{bank}{account}"


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4),
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.booleans(),
)
@example("ABNA", "0417164300", False)
def test_every_valid_dutch_iban_is_found_with_or_without_spaces(
    bank: str, account: str, grouped: bool
):
    iban = _nl_iban(bank, account)
    written = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if grouped else iban

    assert iban_is_valid(iban)
    assert [f.kind for f in find_personal_data(f"Maak het over naar {written} graag")] == ["iban"]


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=4),
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.integers(min_value=8, max_value=17),
    st.integers(min_value=1, max_value=9),
)
def test_an_iban_with_one_digit_changed_fails_the_mod_97_check(
    bank: str, account: str, position: int, delta: int
):
    iban = _nl_iban(bank, account)
    changed = iban[:position] + str((int(iban[position]) + delta) % 10) + iban[position + 1 :]

    assert not iban_is_valid(changed)


@given(
    st.dates(),
    st.times(),
    st.integers(min_value=0, max_value=10**19),
    st.sampled_from(["#", "ORD-", "zaak ", "order ", "https://x.com/a/status/"]),
)
def test_dates_times_and_ids_are_never_personal_data(date, time, number, prefix):  # type: ignore[no-untyped-def]
    text = (
        f"Op {date:%d-%m-%Y} om {time:%H:%M} uur ({date.isoformat()}, {time:%H:%M:%S}) "
        f"is {prefix}{number} verwerkt."
    )
    found = find_personal_data(text)

    # A bare number can be a BSN or phone number by chance; with a prefix it is an id.
    assert found == []


@given(st.text(alphabet=st.characters(categories=["L", "Zs"]), max_size=200))
def test_text_of_letters_and_spaces_alone_has_no_personal_data(text: str):
    assert find_personal_data(text) == []
