"""How long X considers a tweet to be. Used by the X connector to refuse a reply X would
refuse, and by the sandbox platform to refuse what X refuses.

X does not count Python characters: it counts a "weighted length" (the twitter-text v3
rules). Latin script counts 1 per character, most other scripts and every emoji count 2,
and any URL counts as 23 because X shortens it to a t.co link. Counting like X does makes
the sandbox reject the same texts X would reject, so an off-by-emoji bug in our connector
shows up here instead of in production. This is a close approximation, not a port of the
full twitter-text library (which needs the complete Unicode emoji tables).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

MAX_TWEET_LENGTH: Final = 280
URL_LENGTH: Final = 23

_URL_PATTERN = re.compile(r"https?://\S+", re.IGNORECASE)

# Code point ranges that twitter-text weighs as 1; everything else weighs 2.
_LIGHT_RANGES: Final = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))

_ZERO_WIDTH_JOINER = 0x200D
_VARIATION_SELECTOR_16 = 0xFE0F
_COMBINING_KEYCAP = 0x20E3
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_EMOJI_TAGS = range(0xE0020, 0xE0080)
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)


def _is_light(code_point: int) -> bool:
    return any(low <= code_point <= high for low, high in _LIGHT_RANGES)


def weighted_length(text: str) -> int:
    """Return the length X would report for ``text`` (an approximation, see module doc)."""
    # X normalises to NFC before counting, so "é" typed as e + accent counts once.
    normalized = unicodedata.normalize("NFC", text)
    url_count = len(_URL_PATTERN.findall(normalized))
    without_urls = _URL_PATTERN.sub("", normalized)

    length = url_count * URL_LENGTH
    previous_was_joiner = False
    previous_was_unpaired_flag_half = False
    for character in without_urls:
        code_point = ord(character)
        # Parts that glue onto the emoji before them make one emoji, which X counts as 2
        # in total: skin tones, presentation selectors, keycaps, tags, and whatever
        # follows a zero-width joiner (family and profession emoji).
        if code_point in (_VARIATION_SELECTOR_16, _COMBINING_KEYCAP, _ZERO_WIDTH_JOINER):
            previous_was_joiner = code_point == _ZERO_WIDTH_JOINER
            continue
        if code_point in _SKIN_TONES or code_point in _EMOJI_TAGS or previous_was_joiner:
            previous_was_joiner = False
            continue
        # A flag is two regional indicator letters but one emoji.
        if code_point in _REGIONAL_INDICATORS:
            if previous_was_unpaired_flag_half:
                previous_was_unpaired_flag_half = False
                continue
            previous_was_unpaired_flag_half = True
        else:
            previous_was_unpaired_flag_half = False
        length += 1 if _is_light(code_point) else 2
    return length


def fits_in_tweet(text: str) -> bool:
    return weighted_length(text) <= MAX_TWEET_LENGTH
