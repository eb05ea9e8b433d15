"""A corpus of hostile citizen input: markup that would run script if it were not escaped,
URLs with dangerous schemes, Unicode that reorders or hides text, and sizes that break a
layout.

Every payload that would run script if it were rendered as markup calls
`window.__xss("<its id>")`, so the browser test (tests/browser/test_hostile_browser.py)
can tell which one ran. `text` is what the citizen typed (or what the platform sends);
`as_name` marks the payloads that also serve as a display name, a handle or a tag.
"""

from __future__ import annotations

from dataclasses import dataclass

MUNICIPALITY_HANDLE = "gemeentedemodorp"
MUNICIPALITY_HOST = "www.demodorp.nl"


@dataclass(frozen=True)
class Payload:
    id: str
    category: str
    text: str
    # Fits a display name or a handle (short, one line): also used as a citizen's name.
    as_name: bool = False


def _call(payload_id: str) -> str:
    return f"window.__xss('{payload_id}')"


def _build() -> list[Payload]:
    corpus: list[Payload] = []

    def add(category: str, number: int, template: str, *, as_name: bool = False) -> None:
        payload_id = f"{category}-{number:02d}"
        corpus.append(
            Payload(payload_id, category, template.replace("XSS()", _call(payload_id)), as_name)
        )

    # --- script elements ------------------------------------------------------------------
    script = [
        "<script>XSS()</script>",
        "<SCRIPT>XSS()</SCRIPT>",
        "<script src=data:text/javascript,XSS()></script>",
        "<scr<script>ipt>XSS()</scr</script>ipt>",
        "<script\n>XSS()</script\n>",
        "</textarea><script>XSS()</script>",
        "</title><script>XSS()</script>",
        "<!--<script>XSS()</script>-->",
        '<noscript><p title="</noscript><script>XSS()</script>">',
        "<script>/*</script><script>*/XSS()</script>",
    ]
    for number, text in enumerate(script, 1):
        add("script", number, text, as_name=number <= 2)

    # --- event handlers ----------------------------------------------------------------------
    handlers = [
        "<img src=x onerror=XSS()>",
        '<img src="x" onerror="XSS()">',
        "<svg onload=XSS()>",
        "<body onload=XSS()>",
        "<details open ontoggle=XSS()>",
        "<input autofocus onfocus=XSS()>",
        "<video><source onerror=XSS()></video>",
        "<audio src=x onerror=XSS()>",
        "<iframe onload=XSS()></iframe>",
        "<div onmouseover=XSS() style=position:fixed;inset:0>hover</div>",
        "<marquee onstart=XSS()>",
        "<select autofocus onfocus=XSS()>",
        "<textarea autofocus onfocus=XSS()></textarea>",
        "<object data=x onerror=XSS()>",
        "<img/src/onerror=XSS()>",
    ]
    for number, text in enumerate(handlers, 1):
        add("handler", number, text, as_name=number <= 3)

    # --- javascript:, data: and vbscript: URLs ----------------------------------------------
    urls = [
        "javascript:XSS()",
        "JaVaScRiPt:XSS()",
        "java\tscript:XSS()",
        "[klik hier](javascript:XSS())",
        '<a href="javascript:XSS()">klik</a>',
        "data:text/html,<script>XSS()</script>",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "[foto](data:image/svg+xml,<svg onload=XSS()>)",
        "vbscript:msgbox(1)",
        '<a href="vbscript:msgbox(1)">klik</a>',
        "<iframe src=javascript:XSS()>",
        "&#106;avascript:XSS()",
        "https://www.demodorp.nl/x?<script>XSS()</script>",
        'https://example.org/"onmouseover="XSS()',
    ]
    for number, text in enumerate(urls, 1):
        add("url", number, text)

    # --- SVG and MathML ---------------------------------------------------------------------
    svg = [
        "<svg><script>XSS()</script></svg>",
        "<svg><a xlink:href=javascript:XSS()><text y=20>klik</text></a></svg>",
        "<svg><animate onbegin=XSS() attributeName=x dur=1s>",
        "<svg><use href=data:image/svg+xml,<svg id=x onload=XSS()></svg>#x>",
        "<math><mtext><table><mglyph><style><img src=x onerror=XSS()>",
        "<math href=javascript:XSS()>klik</math>",
        "<svg><foreignObject><img src=x onerror=XSS()></foreignObject></svg>",
        "<svg><set attributeName=onload to=XSS()>",
    ]
    for number, text in enumerate(svg, 1):
        add("svg", number, text)

    # --- breaking out of attributes and elements ---------------------------------------------
    breakouts = [
        '"><script>XSS()</script>',
        "'><img src=x onerror=XSS()>",
        '" onmouseover="XSS()" x="',
        "' autofocus onfocus='XSS()' x='",
        "</p></li></ol><script>XSS()</script>",
        "</span><img src=x onerror=XSS()>",
        "--><script>XSS()</script><!--",
        "]]><script>XSS()</script>",
    ]
    for number, text in enumerate(breakouts, 1):
        add("breakout", number, text, as_name=number <= 4)

    # --- template injection (Django, Jinja, JS template literals, htmx) ---------------------
    templates = [
        "{{ request.user.password }}",
        "{% debug %}",
        "${XSS()}",
        "{{7*7}} #{7*7} <%= 7*7 %>",
        '<div hx-get="/administration/" hx-trigger="load">',
        "<a hx-on:click=XSS()>klik</a>",
        "{{ naam }} {{ gemeente }} {{ agent_voornaam }}",
    ]
    for number, text in enumerate(templates, 1):
        add("template", number, text, as_name=number in (1, 7))

    # --- CSS injection ----------------------------------------------------------------------
    css = [
        '<p style="position:fixed;top:0;left:0;width:100%;height:100%;background:red">',
        "<style>body{display:none}</style>",
        '<div style="width:expression(XSS())">',
        '<div style="background:url(javascript:XSS())">',
        "<link rel=stylesheet href=data:text/css,body{display:none}>",
        "</style><script>XSS()</script>",
    ]
    for number, text in enumerate(css, 1):
        add("css", number, text)

    # --- HTML entities and double encoding ----------------------------------------------------
    entities = [
        "&lt;script&gt;XSS()&lt;/script&gt;",
        "&amp;lt;script&amp;gt;XSS()&amp;lt;/script&amp;gt;",
        "%3Cscript%3EXSS()%3C/script%3E",
        "%253Cscript%253EXSS()%253C/script%253E",
        "\\u003cscript\\u003eXSS()\\u003c/script\\u003e",
        "&#60;script&#62;XSS()&#60;/script&#62;",
        "&#x3C;img src=x onerror=XSS()&#x3E;",
        "＜script＞XSS()＜/script＞",
    ]
    for number, text in enumerate(entities, 1):
        add("entity", number, text)

    # --- bidirectional controls ---------------------------------------------------------------
    bidi = [
        "Jan \u202eteksreteulB\u202c van Dam",
        "factuur\u202efdp.exe",
        "\u202bمرحبا\u202c Gemeente",
        "\u202aLRE zonder einde",
        "\u2067RLI zonder einde",
        "\u2068FSI zonder einde",
        "\u2066LRI\u2069 en PDI\u2069\u2069",
        "\u200fRLM\u200e LRM \u061c ALM",
        "\u202e\u202e\u202e drie keer RLO",
    ]
    for number, text in enumerate(bidi, 1):
        add("bidi", number, text, as_name=True)

    # --- zero-width and invisible characters: impersonating the municipality ------------------
    handle = MUNICIPALITY_HANDLE
    zero_width = [
        f"{handle[:8]}\u200b{handle[8:]}",
        f"{handle[:8]}\u200d{handle[8:]}",
        f"{handle[:8]}\u200c{handle[8:]}",
        f"\ufeff{handle}",
        f"{handle}\u2060",
        f"{handle}\u00ad",
        f"{handle}\u180e",
        f"{handle}\u2063",
        f"{handle}\U000e0041",
    ]
    for number, text in enumerate(zero_width, 1):
        add("zerowidth", number, text, as_name=True)

    # --- homoglyphs and IDN links -------------------------------------------------------------
    homoglyphs = [
        "Kijk op https://www.dеmodorp.nl/afval",  # Cyrillic е
        "Kijk op https://www.demodοrp.nl/paspoort",  # Greek ο
        "Kijk op https://xn--www-demodrp-0ef.nl/",
        "Kijk op www.demоdorp.nl/parkeren",  # Cyrillic о
        "Kijk op https://www.demodorp.nl@evil.example/",
        "Kijk op https://www.demodorp.nl.evil.example/",
        "Kijk op https://ԝԝԝ.demodorp.nl/",  # Cyrillic komi we
        "Mail gemeente@dеmodorp.nl",
    ]
    for number, text in enumerate(homoglyphs, 1):
        add("homoglyph", number, text)
    for number, text in enumerate(
        ["gеmeentedemodorp", "Gemeente Dеmodorp", "gemeentedemοdorp", "Gеmееntе Dеmоdоrp ✓"],
        len(homoglyphs) + 1,
    ):
        add("homoglyph", number, text, as_name=True)

    # --- sizes --------------------------------------------------------------------------------
    long = [
        "a" * 10_000,
        "https://www.demodorp.nl/" + "x" * 2_000,
        "Lang" + "woord" * 400 + " en dan gewoon verder.",
        "🐟" * 1_000,
        "N" * 300,
        "Jan " * 100,
    ]
    for number, text in enumerate(long, 1):
        add("long", number, text, as_name=number >= 5)

    # --- NUL, control characters, lone surrogates ---------------------------------------------
    control = [
        "NUL\x00in de tekst",
        "\x00<script>XSS()</script>",
        "bel\x07 backspace\x08 escape\x1b[31m rood",
        "vertical\x0btab form\x0cfeed",
        "DEL\x7f en C1\x85\x9b",
        "half \ud83d emoji",
        "andere helft \ude00 emoji",
        "line\u2028separator\u2029paragraph",
    ]
    for number, text in enumerate(control, 1):
        add("control", number, text, as_name=number in (1, 3))

    # --- emoji, combining marks, newlines -----------------------------------------------------
    unicode = [
        "👨‍👩‍👧‍👦👩🏽‍🚒🏳️‍🌈🇳🇱",
        "Z" + "\u0336\u0335\u0334\u0337\u0338\u0321\u0322\u0327\u0328\u031b" * 30 + "algo",
        "H̸̢̛̛̭̫͙̗̯̘̬̞̣̫̥̩̯̪͓̙̟̀͆̓̀́̀̉̀̈́̐͆͜͝͝e̵ ̶c̴o̶m̷e̵s̸",
        "\n" * 200 + "na tweehonderd regels",
        "\r\n" * 50 + "na vijftig CRLF",
        "🙂" * 50 + "\u200d" * 50,
        "e\u0301" * 200,
    ]
    for number, text in enumerate(unicode, 1):
        add("unicode", number, text, as_name=number in (1, 2, 3))

    return corpus


PAYLOADS: list[Payload] = _build()
BY_ID: dict[str, Payload] = {payload.id: payload for payload in PAYLOADS}
NAMES: list[Payload] = [payload for payload in PAYLOADS if payload.as_name]


def categories() -> dict[str, int]:
    counts: dict[str, int] = {}
    for payload in PAYLOADS:
        counts[payload.category] = counts.get(payload.category, 0) + 1
    return counts
