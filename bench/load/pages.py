"""What a simulated agent reads from Webcare's HTML: the conversations in the list and the
forms of the conversation pane, as a browser would submit them.

Standard library only (html.parser): it runs inside locust's gevent workers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

# templates/inbox/_conversation_row.html: `data-conversation-row data-conversation-id="12"`.
_ROW_ID = re.compile(r'data-conversation-row\s+data-conversation-id="(\d+)"')


@dataclass
class Form:
    """A form's action and the fields a browser sends without the user typing anything:
    hidden inputs and checked radio buttons (textareas are named, their text is ours)."""

    action: str
    fields: dict[str, str] = field(default_factory=dict)
    textareas: list[str] = field(default_factory=list)
    submit_disabled: bool = False


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.conversation_ids: list[int] = []
        self._form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if "data-conversation-row" in attributes:
            raw_id = attributes.get("data-conversation-id", "")
            if raw_id.isdigit() and int(raw_id) not in self.conversation_ids:
                self.conversation_ids.append(int(raw_id))
        if tag == "form":
            if attributes.get("method", "get").lower() == "post":
                self._form = Form(action=attributes.get("action", ""))
                self.forms.append(self._form)
            else:
                self._form = None
            return
        if self._form is None:
            return
        name = attributes.get("name", "")
        if tag == "textarea" and name:
            self._form.textareas.append(name)
        elif tag == "input" and name:
            kind = attributes.get("type", "text").lower()
            if kind == "hidden" or (kind in ("radio", "checkbox") and "checked" in attributes):
                self._form.fields[name] = attributes.get("value", "on")
        elif tag == "button" and attributes.get("type", "submit") == "submit":
            self._form.submit_disabled = "disabled" in attributes

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


@dataclass(frozen=True)
class Page:
    forms: list[Form]
    conversation_ids: list[int]

    def form(self, action_suffix: str) -> Form | None:
        """The first POST form whose action ends with `action_suffix` (e.g. "/reply/")."""
        for form in self.forms:
            if form.action.split("?", 1)[0].endswith(action_suffix):
                return form
        return None


def conversation_ids_in(html: str) -> list[int]:
    """The list's conversations in order, without parsing the whole page: every agent
    reloads the list every few seconds, and the load generator must stay light."""
    return list(dict.fromkeys(int(match) for match in _ROW_ID.findall(html)))


def parse_page(html: str) -> Page:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return Page(forms=parser.forms, conversation_ids=parser.conversation_ids)


def list_needs_refresh(
    changes: Mapping[str, Any], listed_ids: Collection[int], *, rule: str = "listed-only"
) -> bool:
    """Whether a live update (the JSON of `/live/changes/`) reloads the agent's list.

    "listed-only" is what static/js/live.js does: a row on screen changed, or something may
    have joined the agent's queues (assigned to them, a citizen wrote in one of theirs or in
    an unassigned one, a colleague mentioned them); other changes wait for a catch-up reload
    at most every 15 s, which the simulation leaves out. "every-change" is what it did
    before the load test showed its cost: any changed conversation anywhere."""
    changed = changes.get("conversation_ids")
    if changed is None:  # more than 500 changes: refresh everything
        return True
    if rule == "every-change":
        return bool(changed)
    if rule != "listed-only":
        raise ValueError(f"unknown list refresh rule {rule!r}")
    return (
        any(conversation_id in listed_ids for conversation_id in changed)
        or bool(changes.get("assigned_to_you"))
        or bool(changes.get("new_messages"))
        or bool(changes.get("new_mentions"))
    )
