"""Topics: which topic rules a citizen message matches, and when a topic spikes (docs/metrics.md,
"Topics" and "Spike alert"). Pure functions, no database.

Matching is the matching of routing rules (inbox/routing.py), so a team lead reads one rule
for both: whole words, case and accents ignored, a word also matches its #hashtag, a #hashtag
only the hashtag, "grof vuil" the two words in a row.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from inbox import routing
from inbox.metrics.working_time import AMSTERDAM

# The spike alert ("something is happening in town"): a topic spikes when its citizen
# messages in the last SPIKE_WINDOW reach at least SPIKE_MIN_MESSAGES and at least
# SPIKE_FACTOR times its average in the same window of the clock on each of the
# SPIKE_BASELINE_DAYS days before.
SPIKE_WINDOW: Final = timedelta(hours=3)
SPIKE_BASELINE_DAYS: Final = 14
SPIKE_MIN_MESSAGES: Final = 10
SPIKE_FACTOR: Final = 3


@dataclass(frozen=True)
class TopicRule:
    topic_id: int
    keywords: tuple[str, ...]


def topic_rules(topics: Iterable[tuple[int, str]]) -> list[TopicRule]:
    """Rules from (topic id, keywords as typed) pairs; a topic without usable keywords
    matches nothing."""
    rules = [
        TopicRule(topic_id=topic_id, keywords=routing.keywords_parse(keywords))
        for topic_id, keywords in topics
    ]
    return [rule for rule in rules if rule.keywords]


def topics_of(text: str, rules: Sequence[TopicRule]) -> list[int]:
    """The ids of the topics whose keywords occur in the text, in the rules' order."""
    if not rules:
        return []
    normalized = routing.normalize(text)
    return [rule.topic_id for rule in rules if _rule_pattern(rule.keywords).search(normalized)]


@functools.lru_cache(maxsize=256)
def _rule_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for all of a rule's keywords: matches where routing.text_has_keyword
    finds any of them, in one search instead of one per keyword (the metrics refresh runs
    every citizen message of a bulk import through every topic)."""
    return re.compile(
        "|".join(f"(?:{routing._keyword_pattern(keyword).pattern})" for keyword in keywords)
    )


def spike_windows(now: datetime) -> list[tuple[datetime, datetime]]:
    """The spike's windows as [start, end) in UTC: first the last SPIKE_WINDOW up to `now`,
    then the same stretch of the Amsterdam clock on each of the SPIKE_BASELINE_DAYS days
    before (wall-clock days, so a change to or from summer time does not shift it)."""
    local_now = now.astimezone(AMSTERDAM)
    windows = []
    for days_back in range(SPIKE_BASELINE_DAYS + 1):
        # Aware arithmetic in Python keeps the wall-clock time: 14:00 yesterday, whatever
        # the offset was then.
        end = (local_now - timedelta(days=days_back)).astimezone(UTC)
        windows.append((end - SPIKE_WINDOW, end))
    return windows


def is_spike(recent: int, baseline_total: int) -> bool:
    """Whether `recent` messages in the window are a spike against `baseline_total` messages
    in the SPIKE_BASELINE_DAYS windows before: recent >= max(SPIKE_MIN_MESSAGES,
    SPIKE_FACTOR x baseline_total / SPIKE_BASELINE_DAYS), in integers (no rounding)."""
    return (
        recent >= SPIKE_MIN_MESSAGES
        and recent * SPIKE_BASELINE_DAYS >= SPIKE_FACTOR * baseline_total
    )


def baseline_average(baseline_total: int) -> float:
    return baseline_total / SPIKE_BASELINE_DAYS
