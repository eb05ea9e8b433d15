"""Text that looks like personal data, so that it is not posted in public by mistake.

A public reply is visible to everyone, for good: a citizen's BSN, phone number, e-mail
address, home address or bank account in it is a data breach (AVG/GDPR). The composer warns
while the agent types (static/js/webcare.js, `personalData`, the twin of this module: keep
the patterns and checks of both the same; tests/browser/test_conversation_browser.py compares
them on tests/inbox/test_personal_data.py's examples) and `reply_create` refuses such a public
reply unless the agent confirms it (inbox/services/replies.py, PersonalDataInPublicReply).

Pure functions, no Django: `find_personal_data(text)` returns every finding with its kind
and span. The patterns prefer a missed oddity over crying wolf on ordinary replies: numbers
are checked (BSN elfproef, IBAN mod 97, ten digits for a Dutch phone number), and dates,
times, URLs, Mastodon handles and long ids are left alone.

The patterns use explicit ASCII classes (`[0-9]`, not `\\d`) so that Python and JavaScript
read them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

# Kinds, in the order overlapping findings are resolved: the more specific one wins.
IBAN: Final = "iban"
EMAIL: Final = "email"
PHONE: Final = "phone"
BSN: Final = "bsn"
POSTCODE: Final = "postcode"
ADDRESS: Final = "address"
KINDS: Final = (IBAN, EMAIL, PHONE, BSN, POSTCODE, ADDRESS)

LETTER: Final = "A-Za-zÀ-ÖØ-öø-ÿ"

URL_PATTERN: Final = re.compile(r"(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)

PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    IBAN: re.compile(
        r"(?<![0-9A-Za-z])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?"
        r"(?![0-9A-Za-z])"
    ),
    # Not after "@" or a word character: "@burger@mastodon.social" is a handle.
    EMAIL: re.compile(
        r"(?<![A-Za-z0-9._%+@-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
        r"\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
    ),
    # +31 / 0031 with nine digits, or a national number with ten, in any grouping of
    # single spaces or hyphens: 06-12345678, 06 12 34 56 78, +31 6 1234 5678, (020) 123 4567.
    PHONE: re.compile(
        r"(?<![0-9A-Za-z+/.#-])"
        r"(?:(?:\+|00)31[ -]?(?:\(0\)[ -]?)?|\(0[1-9][0-9]{0,2}\)[ -]?|0(?=[1-9]))"
        r"[0-9](?:[ -]?[0-9]){5,8}"
        r"(?![0-9]|[.,:/][0-9])"
    ),
    BSN: re.compile(
        r"(?<![0-9A-Za-z.,/+#€$-])"
        r"(?:[0-9]{9}|[0-9]{4}\.[0-9]{2}\.[0-9]{3}|[0-9]{3}[. ][0-9]{3}[. ][0-9]{3})"
        r"(?![0-9A-Za-z]|[.,:/-][0-9])"
    ),
    # Dutch postcodes never have the letters SA, SD or SS.
    POSTCODE: re.compile(r"(?<![0-9A-Za-z-])[1-9][0-9]{3} ?(?!SA|SD|SS)[A-Z]{2}(?![0-9A-Za-z-])"),
    # A street name by its usual ending, then a house number (12, 12a, 12-2, 12 A).
    ADDRESS: re.compile(
        rf"(?<![{LETTER}])[{LETTER}][{LETTER}'-]*"
        r"(?:straat|laan|weg|plein|gracht|kade|singel|dijk|steeg|dreef|markt|baan|burgwal"
        r"|plantsoen|boulevard|hof|park|haven|pad)"
        r" [1-9][0-9]{0,4}(?:[ -]?[A-Za-z](?![0-9A-Za-z])|-[0-9]{1,4}(?![0-9]))?"
        r"(?![0-9]|[.:,][0-9]| ?(?:uur|u\b|min|minuten|dag|dagen|week|weken|maand|maanden"
        r"|jaar|keer|km|meter|procent|euro|%))"
    ),
}

# A number right after "zaaknummer", "order #", "kenmerk:" … is our own or a shop's id, not
# a BSN or phone number, even when it passes their checks. Anchored at the end of the text
# before the number with `(?![\s\S])`, which Python and JavaScript read alike (unlike `$`).
ID_CONTEXT: Final = re.compile(
    r"(?:zaak|order|bestel|kenmerk|referentie|factuur|klant|dossier|melding|ticket|case)"
    r"[A-Za-z]*\.?[ ]*(?:nr\.?|nummer|no\.?)?[ ]*(?:is|was|luidt)?[ ]*[:#=]?[ ]*(?![\s\S])",
    re.IGNORECASE,
)
# How far before a number ID_CONTEXT looks.
ID_CONTEXT_REACH: Final = 40

# "onderweg 2 uur" is not an address.
NOT_STREETS: Final = frozenset({"onderweg", "halfweg", "halverweg", "zijweg", "uitweg"})

# Service numbers are public: 0800 (free), 0900/0906/0909 (paid).
SERVICE_NUMBER_PREFIXES: Final = ("0800", "09")

# IBAN length per country, for the countries a Dutch municipality meets most; others must
# be 15 to 34 characters long.
IBAN_LENGTHS: Final = {
    "NL": 18,
    "BE": 16,
    "DE": 22,
    "FR": 27,
    "GB": 22,
    "ES": 24,
    "IT": 27,
    "LU": 20,
    "AT": 20,
    "CH": 21,
    "PL": 28,
    "PT": 25,
    "IE": 22,
    "DK": 18,
}


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str

    @property
    def shown(self) -> str:
        """The start of the match, enough to find it in the reply without repeating all of
        it in a message or a log: "06-12…"."""
        keep = 5 if len(self.text) > 7 else max(1, len(self.text) // 2)
        return self.text[:keep] + "…"


def bsn_is_valid(digits: str) -> bool:
    """The elfproef of a nine-digit BSN: 9·d1 + 8·d2 + … + 2·d8 − d9 is a multiple of 11."""
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit() or digits == "0" * 9:
        return False
    total = sum(
        weight * int(digit) for weight, digit in zip(range(9, 1, -1), digits[:8], strict=True)
    )
    return (total - int(digits[8])) % 11 == 0


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: the right length for its country, and mod 97 of the rearranged number
    is 1 (letters count as 10–35)."""
    compact = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", compact):
        return False
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    if expected is None and not 15 <= len(compact) <= 34:
        return False
    remainder = 0
    for character in compact[4:] + compact[:4]:
        value = int(character, 36)
        remainder = (remainder * (100 if value > 9 else 10) + value) % 97
    return remainder == 1


_DATE_LIKE = re.compile(r"^[0-9]{1,2}-[0-9]{1,2}-(?:[0-9]{4}|[0-9]{2})(?![0-9])")


def phone_is_plausible(candidate: str) -> bool:
    """A Dutch number: nine digits after +31 (not starting with 0), or ten starting with a
    single 0; not a service number, not a date like 01-02-2024."""
    digits = re.sub(r"[^0-9]", "", candidate)
    if candidate.startswith(("+31", "0031")):
        national = digits[4:] if candidate.startswith("0031") else digits[2:]
        if national.startswith("0") and "(0)" in candidate:
            national = national[1:]
        return len(national) == 9 and not national.startswith("0")
    if _DATE_LIKE.match(candidate):
        return False
    return (
        len(digits) == 10
        and digits.startswith("0")
        and not digits.startswith("00")
        and not digits.startswith(SERVICE_NUMBER_PREFIXES)
    )


def _is_plausible(kind: str, candidate: str) -> bool:
    if kind == IBAN:
        return iban_is_valid(candidate)
    if kind == PHONE:
        return phone_is_plausible(candidate)
    if kind == BSN:
        return bsn_is_valid(re.sub(r"[^0-9]", "", candidate))
    if kind == ADDRESS:
        return candidate.split(" ", 1)[0].lower() not in NOT_STREETS
    return True


def phone_digits(text: str) -> str:
    """A phone number's digits in national form, so that "+31 20 123 4567", "0031 (0)20
    1234567" and "020-1234567" compare equal."""
    digits = re.sub(r"[^0-9]", "", text)
    stripped = text.strip()
    if stripped.startswith("0031"):
        digits = digits[4:]
    elif stripped.startswith("+31"):
        digits = digits[2:]
    else:
        return digits
    return "0" + (digits[1:] if digits.startswith("0") else digits)


@dataclass(frozen=True)
class Allowed:
    """Public contact details that are never flagged: phone numbers compared by their
    digits, e-mail addresses case-insensitively."""

    phones: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()

    @classmethod
    def of(cls, details: Iterable[str]) -> Allowed:
        items = [item.strip() for item in details if item.strip()]
        return cls(
            phones=frozenset(phone_digits(item) for item in items if "@" not in item),
            emails=frozenset(item.lower() for item in items if "@" in item),
        )

    def allows(self, kind: str, candidate: str) -> bool:
        if kind == PHONE:
            return phone_digits(candidate) in self.phones
        if kind == EMAIL:
            return candidate.lower() in self.emails
        return False


NOTHING_ALLOWED: Final = Allowed()

# Every pattern of PATTERNS needs an ASCII digit or an "@": a text with neither holds none.
_MAY_HOLD_PERSONAL_DATA: Final = re.compile(r"[0-9@]")


def find_personal_data(text: str, *, allowed: Allowed = NOTHING_ALLOWED) -> list[Finding]:
    """Every stretch of `text` that looks like personal data, in text order. Overlapping
    candidates are resolved in KINDS order; nothing inside a URL counts, nor the
    municipality's own public contact details in `allowed` (inbox/guards.py passes them
    from settings.WEBCARE_PUBLIC_CONTACT_DETAILS)."""
    if not _MAY_HOLD_PERSONAL_DATA.search(text):
        return []  # most citizens' messages: no pattern can match, skip the eight scans
    taken: list[tuple[int, int]] = [match.span() for match in URL_PATTERN.finditer(text)]
    findings: list[Finding] = []
    for kind in KINDS:
        for match in PATTERNS[kind].finditer(text):
            start, end = match.span()
            if any(start < taken_end and taken_start < end for taken_start, taken_end in taken):
                continue
            if not _is_plausible(kind, match.group()):
                continue
            if kind in (BSN, PHONE) and ID_CONTEXT.search(
                text[max(0, start - ID_CONTEXT_REACH) : start]
            ):
                continue
            taken.append((start, end))
            # Taken all the same, so that no other kind reads part of it.
            if allowed.allows(kind, match.group()):
                continue
            findings.append(Finding(kind=kind, start=start, end=end, text=match.group()))
    return sorted(findings, key=lambda finding: finding.start)


def kinds_found(findings: list[Finding]) -> list[str]:
    """The distinct kinds, in KINDS order: what the audit trail records."""
    present = {finding.kind for finding in findings}
    return [kind for kind in KINDS if kind in present]
