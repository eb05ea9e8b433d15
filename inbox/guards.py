"""The guards' Django side: the municipality's own contact details, the kinds' labels and the
suggested answers (docs/architecture.md, "Guards on incoming messages").

inbox/personal_data.py and inbox/formal_requests.py stay pure; this module feeds them the
settings and turns what they find into words for agents and citizens. The suggested
answers are texts in the code (translated with gettext), not canned responses in the
database: they state the municipality's procedure, which staff should not edit away. They
are filled the way canned responses are (inbox/canned.py: `{{ naam }}`, `{{ gemeente }}`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inbox import formal_requests, personal_data
from inbox.canned import render_text, variables_for
from inbox.models import Contact

PERSONAL_DATA_KIND_LABELS = {
    personal_data.BSN: gettext_lazy("BSN"),
    personal_data.PHONE: gettext_lazy("phone number"),
    personal_data.EMAIL: gettext_lazy("e-mail address"),
    personal_data.POSTCODE: gettext_lazy("postcode"),
    personal_data.ADDRESS: gettext_lazy("address"),
    personal_data.IBAN: gettext_lazy("IBAN"),
}

FORMAL_REQUEST_KIND_LABELS = {
    formal_requests.OBJECTION: gettext_lazy("objection"),
    formal_requests.APPLICATION: gettext_lazy("application"),
    formal_requests.WOO_REQUEST: gettext_lazy("Woo request"),
    formal_requests.COMPLAINT: gettext_lazy("complaint"),
}

# The suggestion for personal data; the formal request kinds are suggestions of their own.
PERSONAL_DATA_SUGGESTION = "personal_data"


def allowed_contact_details() -> personal_data.Allowed:
    """The municipality's own public phone numbers and e-mail addresses: never flagged."""
    return personal_data.Allowed.of(settings.WEBCARE_PUBLIC_CONTACT_DETAILS)


def personal_data_found(text: str) -> list[personal_data.Finding]:
    """inbox/personal_data.py's findings, the municipality's own contact details left out."""
    return personal_data.find_personal_data(text, allowed=allowed_contact_details())


@dataclass(frozen=True)
class Suggestion:
    key: str
    label: str
    text: str


def _templates() -> dict[str, str]:
    """The answers with `{{ naam }}`/`{{ gemeente }}` still in; translated at call time."""
    contact_url = settings.WEBCARE_CONTACT_URL
    formal_url = settings.WEBCARE_FORMAL_REQUEST_URL
    route = _(
        "A formal request cannot be made via social media. Please use the official route: %(url)s"
    ) % {"url": formal_url}
    return {
        PERSONAL_DATA_SUGGESTION: _(
            "Hello {{ naam }}, thank you for your message. For your privacy, please do not "
            "share personal details such as your BSN, address or phone number in public. "
            "Send us a private message or contact {{ gemeente }} via %(url)s, and we will "
            "gladly help you further."
        )
        % {"url": contact_url},
        formal_requests.OBJECTION: _(
            "Hello {{ naam }}, thank you for your message. %(route)s. You can object within "
            "six weeks after the date of the decision; {{ gemeente }} then decides on your "
            "objection within six weeks (twelve if an advisory committee hears it)."
        )
        % {"route": route},
        formal_requests.APPLICATION: _(
            "Hello {{ naam }}, thank you for your message. %(route)s. There you will also "
            "find what you need for your application and within which term {{ gemeente }} "
            "decides on it (for most permits eight weeks)."
        )
        % {"route": route},
        formal_requests.WOO_REQUEST: _(
            "Hello {{ naam }}, thank you for your message. %(route)s. {{ gemeente }} "
            "decides on a Woo request within four weeks; that term can be extended by two "
            "weeks."
        )
        % {"route": route},
        formal_requests.COMPLAINT: _(
            "Hello {{ naam }}, we are sorry to hear that. %(route)s. {{ gemeente }} "
            "handles your complaint within six weeks and will contact you about it."
        )
        % {"route": route},
    }


def _labels() -> dict[str, str]:
    return {
        PERSONAL_DATA_SUGGESTION: _("Insert: continue privately"),
        formal_requests.OBJECTION: _("Insert: how to object"),
        formal_requests.APPLICATION: _("Insert: how to apply"),
        formal_requests.WOO_REQUEST: _("Insert: how to make a Woo request"),
        formal_requests.COMPLAINT: _("Insert: how to file a complaint"),
    }


def suggestion_keys(messages: Iterable[object]) -> list[str]:
    """What to suggest for the citizen's flagged messages: one answer per kind, the
    personal data answer first (only for public messages: ingest flags only those)."""
    keys: list[str] = []
    for message in messages:
        if getattr(message, "personal_data_kinds", None) and PERSONAL_DATA_SUGGESTION not in keys:
            keys.append(PERSONAL_DATA_SUGGESTION)
        for kind in getattr(message, "formal_request_kinds", None) or ():
            if kind in FORMAL_REQUEST_KIND_LABELS and kind not in keys:
                keys.append(kind)
    return keys


def suggestions_for(*, keys: list[str], contact: Contact, agent: User) -> list[Suggestion]:
    """The suggested answers, filled in for this citizen and agent."""
    templates, labels = _templates(), _labels()
    values = variables_for(contact=contact, agent=agent)
    return [
        Suggestion(key=key, label=labels[key], text=render_text(templates[key], values).text)
        for key in keys
        if key in templates
    ]
