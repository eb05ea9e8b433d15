"""Variables in canned responses: a tiny, safe substitution of exactly these names.

Canned texts are written by staff, so they never go through the Django template engine
(which would give them tags, filters and attribute access). `{{ naam }}` and friends are
replaced by plain text; an unknown `{{ x }}` is left as it is and reported, so the agent
sees it in the composer. Nothing is HTML-escaped here: the result is plain text that the
templates escape where they show it. See docs/architecture.md, step 6.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from inbox.models import Contact

VARIABLES = ("naam", "agent_voornaam", "gemeente")

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Rendered:
    text: str
    # Names of `{{ x }}` that are not variables, in order of first appearance.
    unknown: tuple[str, ...] = ()


def render_text(text: str, values: dict[str, str]) -> Rendered:
    """Replace `{{ name }}` for every name in `values` in one pass (a value that itself
    contains `{{ … }}` stays literal); leave the rest as it is and report it."""
    unknown: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        if name not in unknown:
            unknown.append(name)
        return match.group(0)

    return Rendered(text=_VARIABLE.sub(substitute, text), unknown=tuple(unknown))


def variables_for(*, contact: Contact, agent: User) -> dict[str, str]:
    return {
        "naam": contact.display_name or (f"@{contact.username}" if contact.username else ""),
        "agent_voornaam": agent.first_name or agent.username,
        "gemeente": settings.WEBCARE_MUNICIPALITY_NAME,
    }


def access_refusal(*, role: str, actor_id: int, owner_id: int | None) -> str:
    """Why `actor` may not manage a canned response owned by `owner_id` (None: shared), or
    "" when they may. Team leads manage the shared ones; everyone their own personal ones.
    The one statement of the rule, for the services and for the pages."""
    if owner_id is None and role not in ("team_lead", "administrator"):
        return _("Only team leads can manage shared canned responses.")
    if owner_id is not None and owner_id != actor_id:
        return _("You can only manage your own canned responses.")
    return ""
