"""Which words and #hashtags of a citizen message count as its terms (docs/metrics.md,
"Frequent terms and hashtags").

Pure functions, no database: inbox/services/topics.py feeds a day's citizen messages through
`TermCounter.count` and stores the result as MetricsTermDay rows.

A message's terms: its text lowercased (accents kept: "café" stays "café"), split on
non-word characters, without
- anything inbox/personal_data.py flags (postcodes, phone numbers, e-mail addresses, BSNs,
  IBANs, street addresses): never counted, so never shown;
- URLs and @mentions (a handle names a person or an account, not a subject);
- numbers and words starting with a digit ("2024", "12a"), words shorter than three letters;
- Dutch and English stop words, and the municipality's own name and handles (which would top
  every day's list without saying anything).
A #hashtag is kept as "#tag" (with at least two characters, one of them a letter) next to
plain words: "#afval" and "afval" are two terms. A message counts each of its terms once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from inbox.personal_data import URL_PATTERN, find_personal_data

# Common words that say nothing about a subject: Dutch first, then English (citizens write
# both), then words every message to a municipality has.
_STOP_WORDS_TEXT: Final = """
    aan aangezien achter af al alle alleen alles als also altijd ander andere anders bent ben
    bij bijna binnen boven dan dat de deze die dit doch doe doen door dus echter een eens eer
    eerst en enkel er erg even ga gaan gaat gedaan geen gehad geweest gewoon graag had hadden
    heb hebben hebt heeft hem hen het hier hij hoe hoor hun iemand iets ik in is ja je jij jou
    jouw jullie kan kon kun kunnen kunt laat maar me meer men met mij mijn moet moeten na naar
    namelijk net niet niets nog nou nu of ofwel om omdat ons onze ook op over per toch toe tot
    u uit uw van veel voor vanaf vanuit waar waarom wanneer want was waren wat we wel welk
    welke werd werden wie wij wil willen word worden wordt zal zei zeer zelf zich zij zijn zo
    zoals zou zouden zullen zo'n hallo hoi goedemorgen goedemiddag goedenavond dank bedankt
    alvast groet groeten mvg vriendelijke beste dag weer even keer gisteren vandaag morgen
    iedereen daar daarom dezelfde eigenlijk helemaal hoeveel inmiddels jaar kom komen komt
    krijg krijgen lang maken mag misschien nee nodig steeds terug tijd veel vaak vraag weet
    weten zien zie zit zitten
    the and for are but not you your yours all any can had her was one our out has have
    him his how its may new now old see two way who did get got let put say she too use
    that this with from they them then than there their what when where which while will
    would could should about after again also been being both each into just like more
    most much only other over same some such very were here please thanks thank hello
    gemeente
"""
STOP_WORDS: Final = frozenset(_STOP_WORDS_TEXT.split())

# A handle: "@burger", "@burger@mastodon.social" (Mastodon), not an e-mail address (which
# personal_data already masked).
_MENTION: Final = re.compile(r"(?<![\w@])@\w+(?:@[\w-]+(?:\.[\w-]+)+)?")
# "#tag" where '#' does not follow a word character, else a plain word.
_TOKEN: Final = re.compile(r"(?<![\w#])#(\w+)|(\w+)")
# Of what personal_data flags, only e-mail addresses (an '@'), IBANs (two letters, two digits)
# and street addresses (a street name, a space, a house number) hold letters that would
# survive as terms: phone numbers, BSNs and postcodes are digits and two letters, which the
# rules below drop anyway. A text without any of these skips the slower full check and gives
# the same terms (tests/inbox/test_terms.py compares both).
_MAY_HOLD_PERSONAL_DATA: Final = re.compile(
    r"@|[A-Za-z]{2}[0-9]{2}|(?:straat|laan|weg|plein|gracht|kade|singel|dijk|steeg|dreef|markt"
    r"|baan|burgwal|plantsoen|boulevard|hof|park|haven|pad) [1-9]"
)

MIN_WORD_LENGTH: Final = 3
MIN_HASHTAG_LENGTH: Final = 2
# MetricsTermDay.term holds 100 characters; longer "words" are noise (a pasted id, a URL
# fragment).
MAX_TERM_LENGTH: Final = 60


def own_words(handles: Iterable[str], municipality_name: str) -> frozenset[str]:
    """The municipality's own words: its accounts' handles ("@gemeentedemodorp",
    "gemeentedemodorp@social.overheid.nl" → "gemeentedemodorp") and the words of its name
    ("Gemeente Demodorp" → "gemeente", "demodorp")."""
    words = {
        handle.strip().lstrip("@").split("@", 1)[0].lower() for handle in handles if handle.strip()
    }
    words.update(word.lower() for word in re.findall(r"\w+", municipality_name))
    return frozenset(word for word in words if word)


def _without_personal_data(text: str, *, always_check: bool = False) -> str:
    """The text with every finding of personal_data blanked out (same length, so later spans
    stay put), then URLs and @mentions removed."""
    if always_check or _MAY_HOLD_PERSONAL_DATA.search(text):
        findings = find_personal_data(text)
        if findings:
            parts: list[str] = []
            position = 0
            for finding in findings:
                parts.append(text[position : finding.start])
                parts.append(" " * (finding.end - finding.start))
                position = finding.end
            parts.append(text[position:])
            text = "".join(parts)
    if "://" in text or "www." in text.lower():
        text = URL_PATTERN.sub(" ", text)
    if "@" in text:
        text = _MENTION.sub(" ", text)
    return text


def _term(hashtag: str, word: str, stop_words: frozenset[str]) -> str | None:
    """The term of one token (a hashtag's body or a word, lowercase), or None to drop it."""
    if hashtag:
        body = hashtag.strip("_")
        if (
            MIN_HASHTAG_LENGTH <= len(body) < MAX_TERM_LENGTH
            and any(char.isalpha() for char in body)
            and body not in stop_words
        ):
            return "#" + body
        return None
    word = word.strip("_")
    if (
        MIN_WORD_LENGTH <= len(word) <= MAX_TERM_LENGTH
        and word[0].isalpha()
        and word not in stop_words
    ):
        return word
    return None


@dataclass
class TermCount:
    """One term over some messages: in how many, by how many different authors."""

    is_hashtag: bool
    messages: int = 0
    authors: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class TermCounter:
    """The terms of citizen messages; `extra_stop_words` are the municipality's own words
    (`own_words`), dropped as words and as hashtags."""

    extra_stop_words: frozenset[str] = frozenset()

    @property
    def stop_words(self) -> frozenset[str]:
        return STOP_WORDS | self.extra_stop_words

    def terms(self, text: str) -> set[str]:
        """The distinct terms of one message: plain words, and hashtags as "#tag"."""
        return self._terms(text, self.stop_words, {})

    @staticmethod
    def _terms(
        text: str,
        stop_words: frozenset[str],
        seen: dict[tuple[str, str], str | None],
    ) -> set[str]:
        found: set[str] = set()
        # A day's messages share most of their words: `seen` remembers each token's verdict.
        for token in set(_TOKEN.findall(_without_personal_data(text).lower())):
            try:
                term = seen[token]
            except KeyError:
                term = seen[token] = _term(token[0], token[1], stop_words)
            if term is not None:
                found.add(term)
        return found

    def count(self, messages: Iterable[tuple[str, int | None]]) -> dict[str, TermCount]:
        """Per term over (text, author id) pairs: the messages that use it (each once) and
        their distinct authors (a message without an author counts as a message only)."""
        stop = self.stop_words
        seen: dict[tuple[str, str], str | None] = {}
        counts: dict[str, TermCount] = {}
        for text, author_id in messages:
            for term in self._terms(text, stop, seen):
                entry = counts.get(term)
                if entry is None:
                    entry = counts[term] = TermCount(is_hashtag=term.startswith("#"))
                entry.messages += 1
                if author_id is not None:
                    entry.authors.add(author_id)
        return counts
