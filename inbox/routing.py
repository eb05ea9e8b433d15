"""Matching routing rules against a new conversation: pure functions, no database.

A rule's conditions (docs/architecture.md, "Assignment engine"): a channel, keywords or
#hashtags in the first message, the contact's category. Every condition the rule sets must
match; an empty condition matches everything. Keywords match whole words, ignoring case and
accents: "afval" matches "Afval!" and "#afval" but not "afvalbak"; "#afval" matches only the
hashtag; "grof vuil" matches the two words in a row; "cafe" matches "café".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

_SEPARATORS = re.compile(r"[,\n\r]+")
_WHITESPACE = re.compile(r"\s+")


# Cached: routing compares a new conversation's first text once per keyword rule.
@lru_cache(maxsize=64)
def normalize(text: str) -> str:
    """Lower case without accents ("Café" → "cafe", "geïnd" → "geind"), for comparison."""
    decomposed = unicodedata.normalize("NFKD", text)
    without_marks = "".join(char for char in decomposed if not unicodedata.combining(char))
    return without_marks.casefold()


def keywords_parse(keywords: str) -> tuple[str, ...]:
    """The keywords of a rule as typed by a team lead: one per line or separated by commas,
    normalized, blanks and duplicates dropped, in their order."""
    seen: dict[str, None] = {}
    for raw in _SEPARATORS.split(keywords):
        keyword = _WHITESPACE.sub(" ", normalize(raw)).strip()
        if keyword.startswith("#"):
            keyword = "#" + keyword[1:].lstrip()
        if keyword and keyword != "#":
            seen.setdefault(keyword, None)
    return tuple(seen)


@lru_cache(maxsize=512)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    hashtag = keyword.startswith("#")
    words = [re.escape(word) for word in keyword.lstrip("#").split(" ")]
    # A plain word also matches the same word written as a hashtag; "#afval" only the
    # hashtag. Lookarounds rather than \b because '#' is not a word character.
    prefix = "#" if hashtag else "#?"
    return re.compile(r"(?<![\w#])" + prefix + r"\s+".join(words) + r"(?!\w)")


def text_has_keyword(normalized_text: str, keywords: Iterable[str]) -> bool:
    """Whether any of the (parsed) keywords occurs in the (normalized) text as whole words."""
    return any(_keyword_pattern(keyword).search(normalized_text) for keyword in keywords)


@dataclass(frozen=True)
class RuleConditions:
    """What a rule asks of a conversation; None or empty means "any"."""

    channel_id: int | None = None
    keywords: tuple[str, ...] = ()
    contact_category: str = ""


@dataclass(frozen=True)
class NewConversationFacts:
    channel_id: int
    first_text: str
    contact_category: str


def conditions_match(conditions: RuleConditions, facts: NewConversationFacts) -> bool:
    if conditions.channel_id is not None and conditions.channel_id != facts.channel_id:
        return False
    if conditions.contact_category and conditions.contact_category != facts.contact_category:
        return False
    return not conditions.keywords or text_has_keyword(
        normalize(facts.first_text), conditions.keywords
    )


Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class Rule(Generic[Outcome]):
    conditions: RuleConditions
    outcome: Outcome


def first_matching(rules: Sequence[Rule[Outcome]], facts: NewConversationFacts) -> Outcome | None:
    """The outcome of the first rule (in the given order) whose conditions all match."""
    for rule in rules:
        if conditions_match(rule.conditions, facts):
            return rule.outcome
    return None
