"""How long Mastodon considers a status to be, so that we refuse what the instance refuses.

Mastodon (app/validators/status_length_validator.rb) counts grapheme clusters, not code
points, after two substitutions: every http(s) URL counts as 23 characters whatever its
length, and a mention of a remote account (`@user@domain`) counts only as `@user`: the
domain is free. The limit itself is per instance (500 by default); the connector learns it
from `/api/v2/instance` and keeps it in `Channel.platform_settings["max_characters"]`.

Grapheme clusters are approximated with the standard library: combining marks, emoji
modifiers, variation selectors, keycaps, tag sequences, zero-width-joiner sequences and
flag pairs are counted as part of the character before them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import urlsplit

DEFAULT_MAX_CHARACTERS: Final = 500
URL_LENGTH: Final = 23

# Mastodon's Account::MENTION_RE: @user or @user@domain, not inside a word or a URL.
MENTION_PATTERN: Final = re.compile(
    r"(?<![=/\w])@((\w+(?:[.-]+\w+)*)(?:@[\w]+(?:[.-]+[\w]+)*)?)", re.IGNORECASE
)
_URL_PATTERN: Final = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
# A URL does not end with punctuation that closes the sentence around it.
_URL_TRAILING: Final = ".,:;!?)]}'\""

_ZERO_WIDTH_JOINER: Final = 0x200D
_VARIATION_SELECTORS: Final = range(0xFE00, 0xFE10)
_COMBINING_KEYCAP: Final = 0x20E3
_SKIN_TONES: Final = range(0x1F3FB, 0x1F400)
_EMOJI_TAGS: Final = range(0xE0020, 0xE0080)
_REGIONAL_INDICATORS: Final = range(0x1F1E6, 0x1F200)


def _shorten_url(match: re.Match[str]) -> str:
    url = match.group(0)
    trimmed = url.rstrip(_URL_TRAILING)
    return "x" * URL_LENGTH + url[len(trimmed) :]


def countable_text(text: str) -> str:
    """The text as Mastodon counts it: URLs replaced by 23 x's, mention domains removed."""
    shortened = _URL_PATTERN.sub(_shorten_url, text)
    return MENTION_PATTERN.sub(lambda match: f"@{match.group(2)}", shortened)


def grapheme_length(text: str) -> int:
    """The number of user-perceived characters (an approximation, see the module doc)."""
    length = 0
    glue_next = False
    unpaired_flag_half = False
    for character in text:
        code_point = ord(character)
        if code_point == _ZERO_WIDTH_JOINER:
            glue_next = True
            continue
        if (
            glue_next
            or code_point in _VARIATION_SELECTORS
            or code_point == _COMBINING_KEYCAP
            or code_point in _SKIN_TONES
            or code_point in _EMOJI_TAGS
            or unicodedata.combining(character)
        ):
            glue_next = False
            if length:
                continue
        if code_point in _REGIONAL_INDICATORS:
            if unpaired_flag_half:
                unpaired_flag_half = False
                continue
            unpaired_flag_half = True
        else:
            unpaired_flag_half = False
        length += 1
    return length


def status_length(text: str) -> int:
    """The length Mastodon reports for a status with this text (no content warning)."""
    return grapheme_length(countable_text(text))


# --- status HTML to plain text -----------------------------------------------------------------

# Elements whose content is never text for a person: dropped with everything inside.
_DROPPED_ELEMENTS: Final = frozenset({"script", "style", "template", "head", "title", "iframe"})
_BLOCK_ELEMENTS: Final = frozenset(
    {"p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"}
)


class _TextExtractor(HTMLParser):
    """Collects the visible text of a status, paragraph by paragraph."""

    def __init__(self, mention_accts: dict[str, str]) -> None:
        # convert_charrefs: entities (&amp; &#39; …) arrive unescaped in handle_data.
        super().__init__(convert_charrefs=True)
        self.mention_accts = mention_accts
        self.paragraphs: list[str] = []
        self.current: list[str] = []
        self.dropped_depth = 0
        # Per open <a>: its href and where its text starts in `current`.
        self.links: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED_ELEMENTS:
            self.dropped_depth += 1
        elif self.dropped_depth:
            return
        elif tag == "br":
            self.current.append("\n")
        elif tag in _BLOCK_ELEMENTS:
            self._end_paragraph()
            if tag == "li":
                self.current.append("- ")
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.current)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br /> and friends: a void element has no content to drop.
        if tag not in _DROPPED_ELEMENTS:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED_ELEMENTS:
            self.dropped_depth = max(0, self.dropped_depth - 1)
        elif self.dropped_depth:
            return
        elif tag in _BLOCK_ELEMENTS:
            self._end_paragraph()
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            self._end_link(href, start)

    def handle_data(self, data: str) -> None:
        if not self.dropped_depth:
            # Line breaks in the HTML source are spaces; <br> and <p> make the real ones.
            self.current.append(re.sub(r"[\r\n\t]+", " ", data))

    def _end_link(self, href: str, start: int) -> None:
        visible = "".join(self.current[start:])
        acct = self.mention_accts.get(href)
        if acct is not None:
            # Mastodon shows "@sanne" for @sanne@mastodon.nl; the full address is the name.
            replacement = f"@{acct}"
        elif (
            visible.strip()
            and urlsplit(href).scheme in {"http", "https"}
            and not visible.startswith(("@", "#"))
            and visible.strip().rstrip("…").removesuffix("...") not in href
        ):
            # A link whose text hides where it goes: keep both, as a mail client does.
            replacement = f"{visible} ({href})"
        else:
            # Mastodon's own links show the whole URL (its invisible spans included);
            # javascript: and other schemes keep only their text.
            replacement = visible
        del self.current[start:]
        self.current.append(replacement)

    def _end_paragraph(self) -> None:
        while self.links:
            href, start = self.links.pop()
            self._end_link(href, start)
        text = "\n".join(line.strip() for line in "".join(self.current).split("\n")).strip()
        if text:
            self.paragraphs.append(text)
        self.current = []

    def text(self) -> str:
        self._end_paragraph()
        return "\n\n".join(self.paragraphs)


def html_to_text(content: str, mentions: Iterable[Mapping[str, Any]] = ()) -> str:
    """Plain text of a status's HTML `content`: paragraphs become blank lines, <br> a line
    break, links their text, mentions `@acct`, entities characters. No markup survives:
    the result is text, to be escaped like any other text wherever it is shown.

    `mentions` is the status's `mentions` list, which maps each mention link to its acct.
    """
    accts = {
        str(mention.get("url")): str(mention.get("acct"))
        for mention in mentions
        if isinstance(mention, Mapping) and mention.get("url") and mention.get("acct")
    }
    extractor = _TextExtractor(accts)
    extractor.feed(content)
    extractor.close()
    return extractor.text()


def mentions_recipient(text: str, acct: str) -> bool:
    """Whether `text` mentions the account `acct` (`sanne` or `sanne@mastodon.nl`)."""
    wanted = acct.lower()
    for match in MENTION_PATTERN.finditer(text):
        mentioned = match.group(1).lower()
        if mentioned == wanted or ("@" not in wanted and mentioned.split("@")[0] == wanted):
            return True
    return False


def addressed(text: str, acct: str) -> str:
    """The reply as Mastodon must receive it: it only delivers to mentioned accounts, so a
    reply that does not mention the citizen starts with "@acct ". Applied before the
    length is counted and the reply stored, so the agent's count and our copy are exact."""
    if not acct or mentions_recipient(text, acct):
        return text
    return f"@{acct} {text}"
