"""Dutch is the default language: every string of the interface has a Dutch translation,
none is fuzzy (a guess makemessages made), and the compiled catalogue matches the source."""

from __future__ import annotations

import gettext
from pathlib import Path

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "nl" / "LC_MESSAGES"


def _entries() -> list[str]:
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    return [block for block in text.split("\n\n") if "\nmsgid " in f"\n{block}"][1:]


def _strings(block: str, keyword: str) -> list[str]:
    """The (concatenated) values of every `keyword` line group in a PO entry."""
    values: list[str] = []
    current: list[str] | None = None
    for line in block.splitlines():
        if line.startswith(keyword):
            current = [line.split(" ", 1)[1].strip()[1:-1]]
            values.append("")
        elif line.startswith('"') and current is not None:
            current.append(line.strip()[1:-1])
        else:
            if current is not None and values:
                values[-1] = "".join(current)
            current = None
            continue
        values[-1] = "".join(current)
    return values


def test_every_interface_string_has_a_dutch_translation() -> None:
    untranslated = []
    for block in _entries():
        if block.lstrip().startswith("#~"):
            continue
        msgid = _strings(block, "msgid ")[0]
        translations = _strings(block, "msgstr")
        if "#, fuzzy" in block or not translations or not all(translations):
            untranslated.append(msgid)
    assert untranslated == []


def test_the_compiled_catalogue_matches_the_source() -> None:
    with (LOCALE / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    for block in _entries():
        if "msgid_plural" in block or "msgctxt" in block or block.lstrip().startswith("#~"):
            continue
        msgid = (
            _strings(block, "msgid ")[0]
            .encode()
            .decode("unicode_escape")
            .encode("latin-1")
            .decode("utf-8")
        )
        msgstr = (
            _strings(block, "msgstr ")[0]
            .encode()
            .decode("unicode_escape")
            .encode("latin-1")
            .decode("utf-8")
        )
        assert catalogue.gettext(msgid) == msgstr, f"django.mo is stale for {msgid!r}"
