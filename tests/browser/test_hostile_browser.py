"""Hostile input on every screen (docs/architecture.md, "Hostile input"): the corpus of
tests/hostile/payloads.py arrives through the sandbox and the real connectors as citizen
messages, names, handles, profile and attachment URLs, and through the services as what
staff type; an administrator, who sees everything, then opens every screen that shows it.

On each screen: no payload script ran (`window.__xss` records calls), no dialog opened,
the Content-Security-Policy reported nothing (a violation would mean markup from content
was parsed and only the policy stopped it), no element carries a handler attribute or a
javascript:/data:/vbscript: URL, no user text contains markup other than our own, and the
layout held: nothing scrolls sideways, header, navigation and main are where they belong,
and very long words wrap inside their message.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest

from inbox.models import DataSubjectRequest, Message
from tests.browser.conftest import DESKTOP, TABLET, save_screenshot
from tests.figures import report_figures
from tests.hostile.payloads import BY_ID, NAMES, PAYLOADS
from tests.hostile.seed import (
    SEARCH_WORD,
    STAFF_PASSWORD,
    facebook_channel_create,
    seed_citizens,
    seed_staff_input,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORDER = """
window.__xssCalls = [];
window.__xss = function (id) { window.__xssCalls.push(String(id)); };
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI + " " +
    (event.sample || ""));
}, true);
"""

# Everything our own templates may put inside user text (inbox/templatetags/safe_text.py,
# search snippets' <mark>, the <br> of a line break).
USER_TEXT = ".message-text, .user-text, .search-snippet, .history-first-line, .canned-preview"

PAGE_FINDINGS = """
() => {
  const findings = [];
  const dangerous = /^\\s*(javascript|data|vbscript):/i;
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase();
      if (name.startsWith("on")) findings.push(`handler ${name} on <${element.localName}>`);
      if (name.startsWith("hx-on")) findings.push(`htmx handler ${name}`);
      if (["href", "src", "action", "formaction", "xlink:href", "poster", "data"].includes(name)
          && dangerous.test(attribute.value)) {
        findings.push(`${name}=${attribute.value.slice(0, 60)} on <${element.localName}>`);
      }
    }
  }
  for (const script of document.scripts) {
    if (!script.src || !script.src.startsWith(location.origin + "/static/")) {
      const what = script.src || script.text.slice(0, 60);
      findings.push("script not from our static files: " + what);
    }
  }
  for (const style of document.querySelectorAll("body style, body [style]")) {
    findings.push("inline style on <" + style.localName + ">");
  }
  for (const container of document.querySelectorAll(SELECTOR)) {
    for (const element of container.querySelectorAll("*")) {
      const allowed = ["br", "bdi", "mark", "span", "a"].includes(element.localName);
      const spanOk = element.localName !== "span" || element.className === "invisible-char";
      const href = element.getAttribute("href") || "";
      const linkOk = element.localName !== "a" || /^https?:\\/\\//.test(href);
      if (!allowed || !spanOk || !linkOk) {
        findings.push("markup in user text: " + element.outerHTML.slice(0, 80));
      }
    }
  }
  return findings;
}
""".replace("SELECTOR", repr(USER_TEXT))

LAYOUT = """
() => {
  const problems = [];
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth > width) {
    // Name the innermost elements that stick out, to say where the layout broke.
    const outside = [...document.body.querySelectorAll("*")].filter(
      (element) => element.getBoundingClientRect().right > width + 1 &&
        ![...element.children].some((child) => child.getBoundingClientRect().right > width + 1));
    const names = outside.slice(0, 3).map((element) => element.localName + "." +
      [...element.classList].join("."));
    problems.push(`page is ${document.documentElement.scrollWidth}px wide in ${width}px: ` +
      names.join(", "));
  }
  const box = (selector) => {
    const element = document.querySelector(selector);
    if (!element) return null;
    const rect = element.getBoundingClientRect();
    return { top: rect.top + window.scrollY, bottom: rect.bottom + window.scrollY,
             left: rect.left, right: rect.right, visible: rect.width > 0 && rect.height > 0 };
  };
  const header = box("body > header"), nav = box("body nav, header nav"), main = box("main");
  if (!header || !header.visible) problems.push("no visible header");
  if (!main || !main.visible) problems.push("no visible main");
  if (!nav || !nav.visible) problems.push("no visible navigation");
  if (header && header.top > 1) problems.push(`header starts at ${header.top}px`);
  if (header && header.bottom > 400) problems.push(`header grew to ${header.bottom}px`);
  if (header && main && main.top < header.bottom - 1) problems.push("main overlaps the header");
  if (main && (main.left < -1 || main.right > width + 1)) problems.push("main leaves the window");
  const boxes = ".message, .note, .inbox-row, .search-hit, .history-item";
  for (const element of document.querySelectorAll(boxes)) {
    const label = `${element.className.split(" ")[0]} ${element.id}`;
    if (element.scrollWidth > element.clientWidth + 1) {
      problems.push(`${label}: content ${element.scrollWidth}px in ${element.clientWidth}px`);
    }
    const rect = element.getBoundingClientRect();
    if (rect.right > width + 1) problems.push(`${label} ends at ${rect.right}px`);
  }
  // A right-to-left override in a name must not move what follows it (the page is
  // left-to-right): each handle and time stays right of the name before it on its line.
  for (const element of document.querySelectorAll(".handle, .message-author time")) {
    let before = element.previousSibling;
    while (before && before.nodeType === Node.TEXT_NODE && !before.textContent.trim()) {
      before = before.previousSibling;
    }
    if (!before) continue;
    const range = document.createRange();
    range.selectNodeContents(before);
    const previousLines = range.getClientRects(), ownLines = element.getClientRects();
    if (!previousLines.length || !ownLines.length) continue;
    const previous = previousLines[previousLines.length - 1], own = ownLines[0];
    const sameLine = Math.abs(previous.top - own.top) < own.height / 2;
    if (sameLine && own.left < previous.left) {
      problems.push(`${element.className || element.localName} moved left of the text before it: ` +
        (element.parentElement.textContent || "").trim().slice(0, 40));
    }
  }
  return problems;
}
"""


class Visit:
    """One browser page that checks every screen it opens."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.dialogs: list[str] = []
        self.visited: list[str] = []
        # Every screen is checked before the test fails, so one run lists every finding.
        self.failures: list[str] = []
        page.context.add_init_script(script=RECORDER)
        page.on("dialog", self._on_dialog)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def check(self, path: str, name: str, *, screenshot: bool = False) -> None:
        self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("load")
        self.visited.append(path)
        self.assert_safe(name)
        if screenshot:
            save_screenshot(self.page, f"hostile-{name}")

    def assert_safe(self, name: str) -> None:
        page = self.page
        width = page.viewport_size["width"]
        calls = page.evaluate("window.__xssCalls")
        if calls:
            self.failures.append(f"{name}: payload script ran: {calls}")
        if self.dialogs:
            self.failures.append(f"{name}: dialogs opened: {self.dialogs}")
            self.dialogs.clear()
        violations = page.evaluate("window.__cspViolations")
        if violations:
            # Markup from content was parsed as code; only the policy stopped it.
            self.failures.append(f"{name}: CSP violations: {violations[:5]}")
        findings = page.evaluate(PAGE_FINDINGS)
        if findings:
            self.failures.append(f"{name}: " + "; ".join(findings[:8]))
        problems = page.evaluate(LAYOUT)
        if problems:
            self.failures.append(f"{name} at {width}px: " + "; ".join(problems[:8]))

    def assert_no_failures(self) -> None:
        assert self.failures == [], f"{len(self.failures)} screens failed:\n" + "\n".join(
            self.failures
        )


def _inbox_paths() -> dict[str, str]:
    return {
        "inbox-all": "/?queue=all",
        "inbox-all-2": "/?queue=all&page=2",
        "inbox-unassigned": "/?queue=unassigned",
        "inbox-mine": "/?queue=mine",
        "inbox-teams": "/?queue=teams",
        "inbox-mentions": "/?queue=mentions",
        "inbox-approval": "/?queue=approval",
        "inbox-private": "/?queue=all&status=open",
    }


def test_no_hostile_input_runs_or_breaks_the_layout_on_any_screen(
    browser,
    page,
    live_server,
    log_in,
    sandbox,
    channel,
    mastodon_channel,
    administrator,
    trainee,
    pytestconfig,
) -> None:
    from inbox.services import topic_create

    started = time.monotonic()
    facebook = facebook_channel_create(sandbox)
    seeded = seed_citizens(
        sandbox, {"x": channel, "mastodon": mastodon_channel, "facebook": facebook}
    )
    seed_staff_input(seeded, admin=administrator, trainee=trainee)
    topic_create(
        actor=administrator.user,
        name="<script>window.__xss('topic')</script>",
        keywords=f"{SEARCH_WORD}\n<img src=x onerror=window.__xss('keyword')>",
    )
    seeded_in = time.monotonic() - started

    visit = Visit(page, live_server.url)
    log_in(page, administrator.user.username)

    for name, path in _inbox_paths().items():
        visit.check(path, name, screenshot=name == "inbox-all")
    shown = 0
    for kind, conversation_ids in seeded.chunk_conversations.items():
        assert conversation_ids, kind
        # The inbox's third pane once per platform, every conversation on its own page.
        visit.check(f"/?queue=all&open={conversation_ids[0]}", f"inbox-pane-{kind}")
        for number, conversation_id in enumerate(conversation_ids):
            visit.check(
                f"/conversations/{conversation_id}/",
                f"conversation-{kind}-{number}",
                screenshot=number == 0,
            )
            shown += page.locator("#thread .message-inbound").count()
    for name, path in {
        "search-word": f"/search/?q={SEARCH_WORD}",
        "search-script": "/search/?q=script",
        "search-name": "/search/?q=" + quote("Gemeente"),
        "search-notes": "/search/?q=script&kind=notes",
        "dashboard": "/dashboard/",
        "topics": "/dashboard/topics/",
        "approvals": "/approvals/",
        "canned": "/canned/",
        "teams": "/teams/",
        "audit-log": "/administration/audit/",
        "administration": "/administration/",
        "staff": "/administration/staff/",
        "channels": "/administration/channels/",
        "channel-x": f"/administration/channels/{channel.id}/",
        "channel-mastodon": f"/administration/channels/{mastodon_channel.id}/",
        "data-subject-requests": "/administration/data-subject-requests/",
    }.items():
        visit.check(path, name, screenshot=name in {"search-word", "approvals", "audit-log"})
        if name.startswith("search-"):
            assert page.locator(".search-hit").count(), f"{name} found nothing to check"
    request = DataSubjectRequest.objects.get()
    found_contacts = 0
    for hostile_name in NAMES[:4]:
        visit.check(
            f"/administration/data-subject-requests/{request.id}/"
            f"?q={quote(hostile_name.text[:40])}",
            f"data-subject-search-{hostile_name.id}",
        )
        found_contacts += page.locator("#found-contacts tbody tr").count()
    assert found_contacts, "the data subject search found none of the hostile names"

    # Every payload was on a screen once per platform (and a remote server's raw HTML too).
    assert shown >= 3 * len(PAYLOADS), shown

    # A tablet: the inbox with the queues folded, and a conversation.
    page.set_viewport_size(TABLET)
    visit.check("/?queue=all", "tablet-inbox")
    visit.check(f"/conversations/{seeded.chunk_conversations['x'][0]}/", "tablet-conversation")

    # The staff member with the hostile name at work: their own name in the header.
    page.context.clear_cookies()
    log_in(page, "hostile", STAFF_PASSWORD)
    page.set_viewport_size(DESKTOP)
    visit.check("/?queue=mine", "hostile-staff-inbox", screenshot=True)
    visit.check("/settings/", "hostile-staff-settings")

    elapsed = time.monotonic() - started
    categories = Counter(payload.category for payload in PAYLOADS)
    messages = Message.objects.filter(direction=Message.Direction.INBOUND).count()
    report_figures(
        pytestconfig,
        "hostile-input",
        [
            f"hostile input: {len(PAYLOADS)} payloads in {len(categories)} categories, "
            f"{sum(payload.as_name for payload in PAYLOADS)} also as names and handles; "
            f"{messages} citizen messages on {len(seeded.channels)} platforms; "
            f"{len(visit.visited)} screens checked, {len(visit.failures)} findings; "
            f"seeded in {seeded_in:.1f} s, {elapsed:.1f} s in all"
        ],
        {
            "payloads": len(PAYLOADS),
            "categories": dict(categories),
            "citizen_messages": messages,
            "screens": visit.visited,
            "findings": visit.failures,
        },
    )
    visit.assert_no_failures()


def test_payload_markup_arrives_as_text_not_as_elements(
    page, live_server, log_in, sandbox, channel, administrator
) -> None:
    """The policy is the second wall: what a citizen typed as markup is on the screen as
    the characters they typed, and no element was made of it."""
    script = BY_ID["script-01"]
    handler = BY_ID["handler-01"]
    rtl = BY_ID["bidi-01"]
    zero_width = BY_ID["zerowidth-01"]
    sandbox.add_direct_message(text=script.text, username="tekst", name=zero_width.text)
    sandbox.add_direct_message(text=handler.text, username="tekst", name=zero_width.text)
    sandbox.add_direct_message(text=rtl.text, username="tekst", name=zero_width.text)
    from tests.hostile.seed import poll_until_quiet

    assert poll_until_quiet(channel) == 3
    from inbox.models import Conversation

    conversation = Conversation.objects.get(channel=channel)
    visit = Visit(page, live_server.url)
    log_in(page, administrator.user.username)
    visit.check(f"/conversations/{conversation.id}/", "as-text")
    visit.assert_no_failures()

    texts = page.locator("#thread .message-text").all_inner_texts()
    assert script.text in texts
    assert handler.text in texts
    assert page.locator("#thread img, #thread script, #thread svg").count() == 0
    # The handle that impersonates the municipality shows its zero-width space.
    title = page.locator("#conversation-title").inner_text()
    assert "U+200B" in title, title
    # The right-to-left override is shown, not obeyed: the name reads as typed.
    assert any(text.startswith("Jan U+202Eteksreteul") for text in texts), texts
