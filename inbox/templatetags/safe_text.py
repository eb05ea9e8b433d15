"""Showing what citizens and staff typed (docs/architecture.md, "Hostile input").

Everything is escaped; on top of that:
- every string is isolated (`<bdi>`), so a right-to-left override in a name or a message
  cannot reorder the screen around it;
- names and handles show invisible characters (zero-width spaces, joiners, bidi controls,
  BOM, soft hyphen …) as a visible `U+200B`, so `@gemeente\u200bdemodorp` cannot pass for
  the municipality;
- only http(s) and www. links are made clickable, never one with a user name in it
  (`https://www.demodorp.nl@evil.example/`), and the link shows its real host, in
  punycode when it is not ASCII (a Cyrillic `е` in `dеmodorp.nl` shows as `xn--…`);
- a pile of combining marks (Zalgo) is cut to a few per character, so it cannot paint over
  the lines around it.
Stored text stays as the citizen wrote it; this is only how it is shown.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django import template
from django.utils.html import escape, smart_urlquote
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# More combining marks than any script needs on one letter (Vietnamese uses two, Hebrew
# with cantillation three or four).
MAX_COMBINING_MARKS = 4
LINK_TEXT_LENGTH = 60

_URL = re.compile(r"(?:\bhttps?://|\bwww\.)[^\s<>\"'`]+", re.IGNORECASE)
# A URL does not end with the punctuation that closes the sentence around it.
_URL_TRAILING = ".,:;!?)]}'\""
# Letters that look like nothing at all: fillers and blanks.
_INVISIBLE_LETTERS = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0x034F})
_ZERO_WIDTH_JOINERS = frozenset({0x200C, 0x200D})
_TAG_CHARACTERS = range(0xE0020, 0xE0080)
_BLACK_FLAG = 0x1F3F4
# LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI (the marks LRM, RLM and ALM stay).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def _is_emoji_part(character: str) -> bool:
    return ord(character) >= 0x2190 and unicodedata.category(character) in {"So", "Sk", "Mn"}


def _is_joining_script(character: str) -> bool:
    """A letter of a script that uses ZWJ/ZWNJ for its own shaping (Arabic, Indic, …)."""
    return ord(character) >= 0x0590 and unicodedata.category(character)[0] in {"L", "M"}


def _is_hidden(text: str, index: int) -> bool:
    """Whether the character at `index` is invisible where it stands and no part of how
    the writing system works there."""
    character = text[index]
    code_point = ord(character)
    category = unicodedata.category(character)
    if code_point in _INVISIBLE_LETTERS:
        return True
    if category == "Cc":
        return character not in "\t\n\r"
    if category not in {"Cf", "Zl", "Zp"}:
        return False
    before = text[index - 1] if index else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    if code_point in _ZERO_WIDTH_JOINERS:
        emoji_sequence = code_point == 0x200D and before and after and _is_emoji_part(before)
        shaping = (before and _is_joining_script(before)) or (after and _is_joining_script(after))
        return not (emoji_sequence or shaping)
    if code_point in _TAG_CHARACTERS:
        # Subdivision flags: a black flag, tag letters, a cancel tag.
        start = index
        while start > 0 and ord(text[start - 1]) in _TAG_CHARACTERS:
            start -= 1
        return not (start > 0 and ord(text[start - 1]) == _BLACK_FLAG)
    return True


def cap_combining_marks(text: str, limit: int = MAX_COMBINING_MARKS) -> str:
    """The text with at most `limit` combining marks on any one character."""
    kept: list[str] = []
    run = 0
    for character in text:
        if unicodedata.category(character) in {"Mn", "Me"}:
            run += 1
            if run > limit:
                continue
        else:
            run = 0
        kept.append(character)
    return "".join(kept)


def _revealed(character: str) -> str:
    code = f"U+{ord(character):04X}"
    name = unicodedata.name(character, code)
    return f'<span class="invisible-char" title="{escape(name)}">{code}</span>'


def _escaped_revealing_hidden(text: str) -> str:
    return "".join(
        _revealed(character) if _is_hidden(text, index) else str(escape(character))
        for index, character in enumerate(text)
    )


def _escaped_revealing_overrides(text: str) -> str:
    """Escaped, with the bidi embeddings, overrides and isolates shown: in running text they
    serve only to disguise (`factuur\u202efdp.exe` reads as "factuurexe.pdf")."""
    return _BIDI_CONTROLS.sub(lambda match: _revealed(match.group(0)), str(escape(text)))


@register.filter
def user_name(value: Any) -> SafeString:
    """A name, handle, tag or other one-line label someone chose: isolated, with every
    invisible character shown."""
    text = cap_combining_marks(" ".join(str(value).split()))
    return mark_safe(  # noqa: S308 - every character escaped or our own markup
        f'<bdi class="user-text">{_escaped_revealing_hidden(text)}</bdi>'
    )


@register.filter
def user_handle(value: Any) -> SafeString:
    """A platform handle with its @, isolated, with every invisible character shown."""
    text = cap_combining_marks("".join(str(value).split()))
    return mark_safe(  # noqa: S308 - every character escaped or our own markup
        f'<bdi class="user-text">@{_escaped_revealing_hidden(text)}</bdi>'
    )


@register.filter
def isolated(value: Any) -> SafeString:
    """A line of someone's text (a preview, a first line): escaped, isolated, bidi
    overrides shown."""
    text = _escaped_revealing_overrides(cap_combining_marks(str(value)))
    return mark_safe(f'<bdi class="user-text">{text}</bdi>')  # noqa: S308 - escaped


def _link(url: str) -> str:
    """`url` as a link showing its real host, or as escaped text when it is no safe link."""
    trimmed = url.rstrip(_URL_TRAILING)
    # A closing bracket belongs to the URL when the URL opened it (Wikipedia links).
    while trimmed != url and url[len(trimmed)] == ")" and trimmed.count("(") > trimmed.count(")"):
        trimmed += ")"
    trailing = url[len(trimmed) :]
    target = trimmed if "://" in trimmed else f"https://{trimmed}"
    scheme, _, rest = target.partition("://")
    host_end = len(rest)
    for separator in "/?#":
        position = rest.find(separator)
        if position != -1:
            host_end = min(host_end, position)
    host, path = rest[:host_end], rest[host_end:]
    if not host or "@" in host or "\\" in host:
        # A user name before the host ("www.demodorp.nl@evil.example") hides where it goes.
        return _escaped_revealing_overrides(url)
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return _escaped_revealing_overrides(url)
    if not re.fullmatch(r"[a-z0-9.-]+(?::[0-9]{1,5})?", ascii_host):
        return _escaped_revealing_overrides(url)
    shown = f"{scheme.lower()}://{ascii_host}{path}" if "://" in trimmed else ascii_host + path
    if len(shown) > LINK_TEXT_LENGTH:
        shown = shown[: LINK_TEXT_LENGTH - 1] + "…"
    try:
        href = smart_urlquote(f"{scheme.lower()}://{ascii_host}{path}")
    except ValueError:
        return _escaped_revealing_overrides(url)
    return (
        f'<a href="{escape(href)}" rel="nofollow noopener noreferrer" class="user-link">'
        f"<bdi>{_escaped_revealing_hidden(shown)}</bdi></a>{_escaped_revealing_overrides(trailing)}"
    )


@register.filter
def citizen_text(value: Any) -> SafeString:
    """A message or a note: escaped, line breaks kept, http(s) links made safe links, bidi
    overrides shown."""
    text = cap_combining_marks(str(value)).replace("\r\n", "\n").replace("\r", "\n")
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        parts.append(_escaped_revealing_overrides(text[position : match.start()]))
        parts.append(_link(match.group(0)))
        position = match.end()
    parts.append(_escaped_revealing_overrides(text[position:]))
    html = "".join(parts).replace("\n", "<br>")
    return mark_safe(html)  # noqa: S308 - escaped piece by piece above
