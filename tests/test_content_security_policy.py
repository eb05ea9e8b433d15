"""The strict Content-Security-Policy, and templates that never need it loosened.

Citizen text is escaped everywhere; the CSP is the second wall: even an escaping bug could
not run a script, because the browser only runs our own static files.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_every_page_gets_the_strict_policy(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/login/")

    policy = response.headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


class _InlineCode(HTMLParser):
    """Collects what the policy would block: inline scripts, style attributes, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _value in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name == "style" or name.startswith("on") or name.startswith("hx-on"):
                self.found.append(f"{name}= attribute on <{tag}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL in {name}")
            if name == "hx-trigger" and value and "[" in value:
                self.found.append("htmx trigger filter (needs eval)")


@pytest.mark.parametrize(
    "template",
    sorted(str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")),
)
def test_no_template_needs_inline_code(template: str) -> None:
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    # Template tags and comments are not HTML; blank them so the parser sees the markup.
    markup = re.sub(r"{%.*?%}|{#.*?#}|{{.*?}}", "x", source, flags=re.DOTALL)
    parser = _InlineCode()
    parser.feed(markup)
    assert parser.found == [], f"{template}: {parser.found}"


@pytest.mark.django_db
def test_the_api_docs_load_their_setup_script_from_a_url(logged_in, agent) -> None:  # type: ignore[no-untyped-def]
    client = logged_in(agent)

    page = client.get("/api/docs/")
    setup_script = client.get("/api/docs/?script")

    assert page.status_code == 200
    parser = _InlineCode()
    parser.feed(page.content.decode())
    assert parser.found == []
    assert setup_script.status_code == 200
    assert "SwaggerUIBundle" in setup_script.content.decode()
