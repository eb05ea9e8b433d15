"""The filters that show what people typed (inbox/templatetags/safe_text.py) and the
cleaning before it is stored (inbox/text.py)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.template import Context, Template

from channels.base import PlatformAuthor
from inbox.models import Contact
from inbox.templatetags.safe_text import (
    MAX_COMBINING_MARKS,
    cap_combining_marks,
    citizen_text,
    isolated,
    user_handle,
    user_name,
)
from inbox.text import (
    AVATAR_URL_LENGTH,
    DISPLAY_NAME_LENGTH,
    USERNAME_LENGTH,
    safe_url,
    storable_author,
)
from tests.hostile.payloads import PAYLOADS


def render(source: str, **context: object) -> str:
    return Template("{% load safe_text %}" + source).render(Context(context))


# --- citizen_text ------------------------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.elements


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda payload: payload.id)
def test_no_payload_makes_an_element_of_its_own(payload) -> None:
    shown = (citizen_text, user_name, user_handle, isolated)
    for html in (show(payload.text) for show in shown):
        for tag, attributes in elements(str(html)):
            # Only our own markup: line breaks, isolation, revealed characters, web links.
            assert tag in {"br", "bdi", "span", "a"}, (tag, attributes)
            if tag == "span":
                assert attributes["class"] == "invisible-char"
            if tag == "a":
                assert set(attributes) == {"href", "rel", "class"}
                assert (attributes["href"] or "").startswith(("https://", "http://"))


def test_markup_is_shown_as_the_characters_typed() -> None:
    html = citizen_text("<script>alert(1)</script>\n<img src=x onerror=alert(1)>")

    assert html == ("&lt;script&gt;alert(1)&lt;/script&gt;<br>&lt;img src=x onerror=alert(1)&gt;")


def test_only_http_and_www_links_become_links() -> None:
    html = citizen_text("javascript:alert(1) data:text/html,x vbscript:y www.demodorp.nl/afval")

    assert html.count("<a ") == 1
    assert 'href="https://www.demodorp.nl/afval"' in html
    assert "javascript:alert(1) data:text/html,x vbscript:y" in html


def test_a_link_with_a_homoglyph_host_shows_its_punycode() -> None:
    html = citizen_text("Kijk op https://www.dеmodorp.nl/afval.")  # Cyrillic е

    assert 'href="https://www.xn--dmodorp-7gg.nl/afval"' in html
    assert "<bdi>https://www.xn--dmodorp-7gg.nl/afval</bdi></a>." in html
    assert "dеmodorp" not in html


def test_a_link_with_a_user_name_before_the_host_is_no_link() -> None:
    html = citizen_text("https://www.demodorp.nl@evil.example/login")

    assert "<a " not in html
    assert html == "https://www.demodorp.nl@evil.example/login"


def test_a_long_link_is_cut_in_its_text_but_not_in_its_target() -> None:
    url = "https://www.demodorp.nl/" + "x" * 100
    html = citizen_text(url)

    assert f'href="{url}"' in html
    assert "…</bdi>" in html


def test_a_closing_bracket_belongs_to_a_link_only_when_it_opened_one() -> None:
    html = citizen_text("(zie https://nl.wikipedia.org/wiki/Foo_(bar))")

    assert 'href="https://nl.wikipedia.org/wiki/Foo_(bar)"' in html
    assert html.endswith("</a>)")


def test_a_right_to_left_override_in_a_message_is_shown() -> None:
    html = citizen_text("factuur\u202efdp.exe")

    assert html == (
        'factuur<span class="invisible-char" title="RIGHT-TO-LEFT OVERRIDE">U+202E</span>fdp.exe'
    )


def test_right_to_left_text_and_marks_are_left_alone() -> None:
    assert citizen_text("مرحبا\u200f!") == "مرحبا\u200f!"


# --- user_name, isolated ------------------------------------------------------------------------


def test_a_zero_width_space_in_a_handle_is_shown() -> None:
    html = user_name("gemeente\u200bdemodorp")

    assert html == (
        '<bdi class="user-text">gemeente<span class="invisible-char" title="ZERO WIDTH SPACE">'
        "U+200B</span>demodorp</bdi>"
    )


@pytest.mark.parametrize(
    "hidden", ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad", "\u202e", "\u3164"]
)
def test_every_invisible_character_in_a_name_is_shown(hidden: str) -> None:
    html = user_name(f"gemeente{hidden}demodorp")

    assert f"U+{ord(hidden):04X}" in html
    assert hidden not in html


@pytest.mark.parametrize(
    "name",
    [
        "👨\u200d👩\u200d👧\u200d👦",  # a family: emoji joined by ZWJ
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland
        "می\u200cخواهم",  # Persian: ZWNJ is part of the spelling
        "क्\u200dष",  # Devanagari: ZWJ shapes the conjunct
    ],
)
def test_joiners_that_a_script_or_an_emoji_needs_are_kept(name: str) -> None:
    assert user_name(name) == f'<bdi class="user-text">{name}</bdi>'


def test_a_handle_keeps_its_at_inside_the_isolation() -> None:
    assert user_handle("gemeente\u2060demodorp") == (
        '<bdi class="user-text">@gemeente<span class="invisible-char" title="WORD JOINER">'
        "U+2060</span>demodorp</bdi>"
    )


def test_a_name_is_escaped_and_on_one_line() -> None:
    assert user_name('<img src=x onerror="a()">\nJan') == (
        '<bdi class="user-text">&lt;img src=x onerror=&quot;a()&quot;&gt; Jan</bdi>'
    )


def test_isolated_text_is_escaped_and_its_overrides_shown() -> None:
    assert isolated("<b>\u202eab</b>") == (
        '<bdi class="user-text">&lt;b&gt;<span class="invisible-char" '
        'title="RIGHT-TO-LEFT OVERRIDE">U+202E</span>ab&lt;/b&gt;</bdi>'
    )


def test_the_filters_work_in_a_template_and_after_default() -> None:
    html = render("{{ name|default:fallback|user_name }}", name="", fallback="<Els>")

    assert html == '<bdi class="user-text">&lt;Els&gt;</bdi>'


def test_a_pile_of_combining_marks_is_cut_to_a_few() -> None:
    zalgo = "Z" + "\u0336" * 50 + "a" + "\u0301\u0302"

    assert cap_combining_marks(zalgo) == "Z" + "\u0336" * MAX_COMBINING_MARKS + "a\u0301\u0302"
    assert cap_combining_marks("Việt Nam") == "Việt Nam"


# --- storing ----------------------------------------------------------------------------------


def test_an_author_is_cut_to_the_columns_and_keeps_only_a_web_avatar() -> None:
    author = PlatformAuthor(
        external_id="1",
        username="u" * 300 + "\x00",
        display_name="\x00N" * 300,
        avatar_url="javascript:alert(1)",
    )

    stored = storable_author(author)

    assert stored == {
        "username": "u" * USERNAME_LENGTH,
        "display_name": "N" * DISPLAY_NAME_LENGTH,
        "avatar_url": "",
    }
    too_long = "https://avatars.example/" + "a" * AVATAR_URL_LENGTH
    assert storable_author(PlatformAuthor("1", avatar_url=too_long))["avatar_url"] == ""


def test_the_lengths_are_those_of_the_contact_columns() -> None:
    assert Contact._meta.get_field("username").max_length == USERNAME_LENGTH
    assert Contact._meta.get_field("display_name").max_length == DISPLAY_NAME_LENGTH
    assert Contact._meta.get_field("avatar_url").max_length == AVATAR_URL_LENGTH


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JaVaScRiPt:x", " javascript:x", "java\tscript:x", "data:,x"]
)
def test_only_web_urls_are_safe(url: str) -> None:
    assert safe_url(url) == ""
