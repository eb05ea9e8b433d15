"""Sends the hostile corpus (tests/hostile/payloads.py) through the sandbox platforms and
polls it in through the real connectors, as citizen messages, display names, handles,
profile and attachment URLs; then adds what staff type (a note, a tag, a canned response,
a staff member's and a team's name, a trainee's reply awaiting approval).

Layout of what arrives, so that a browser can see every payload on a few screens:
- every payload as a private message, in chunks: one X DM conversation, one Mastodon
  direct thread and one Messenger conversation per chunk, each citizen named with a
  hostile name (and on Mastodon a hostile handle, profile URL and avatar);
- every name payload once more as a public X mention, so the inbox list shows them all;
- Mastodon statuses whose HTML itself is hostile (a remote server may send any markup),
  and attachments with javascript:/data: URLs on Mastodon, X and Facebook.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from channels.models import Channel
from channels.sandbox import SandboxServer
from channels.sandbox.accounts import MASTODON_ACCOUNT_ID, MASTODON_DOMAIN
from channels.sandbox.graph_api import FACEBOOK_CREDENTIALS, FACEBOOK_PAGE_ID
from channels.services import channel_create, channel_poll
from inbox.models import AgentProfile, Conversation
from inbox.text import storable_text
from tests.hostile.payloads import MUNICIPALITY_HANDLE, NAMES, PAYLOADS, Payload

# Payloads per private conversation: six conversations per platform.
CHUNK = 22
STAFF_PASSWORD = "correct horse battery staple"
# A word every hostile message of the first chunk shares, for the search screen.
SEARCH_WORD = "lantaarnpaal"

_numbers = count(1)


@dataclass
class Seeded:
    channels: dict[str, Channel]
    # Conversations holding the private chunks, per platform.
    chunk_conversations: dict[str, list[int]] = field(default_factory=dict)
    hostile_staff: AgentProfile | None = None
    note_conversation_id: int = 0


def _name(name: Payload) -> str:
    # Full length: ingest cuts names to the columns (inbox.text.storable_author).
    return name.text


def chunks(items: list[Payload], size: int = CHUNK) -> list[list[Payload]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def facebook_channel_create(sandbox: SandboxServer) -> Channel:
    return channel_create(
        kind=Channel.Kind.FACEBOOK,
        name="demodorp-facebook",
        account_id=FACEBOOK_PAGE_ID,
        api_base_url=sandbox.url,
        credentials=dict(FACEBOOK_CREDENTIALS),
    )


def mastodon_html(text: str) -> str:
    """Plain text as Mastodon renders it: escaped, paragraphs and line breaks."""
    paragraphs = [part for part in text.replace("\r\n", "\n").split("\n\n") if part.strip()]
    if not paragraphs:
        paragraphs = [text]
    return "".join(
        "<p>" + "<br />".join(html.escape(line) for line in part.split("\n")) + "</p>"
        for part in paragraphs
    )


def _mastodon_handle(name: Payload, number: int) -> str:
    """A handle made of the name payload where it can be one, else an impersonation."""
    if name.category in {"zerowidth", "homoglyph"}:
        return name.text
    return f"{MUNICIPALITY_HANDLE[:8]}\u200b{MUNICIPALITY_HANDLE[8:]}{number}"


def _mastodon_notification(
    *,
    account_number: int,
    name: Payload,
    content: str,
    moment: datetime,
    visibility: str = "direct",
    media: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    handle = _mastodon_handle(name, account_number)
    account_id = str(120_000_000_000_000_000 + account_number)
    status_id = str(130_000_000_000_000_000 + next(_numbers))
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    account = {
        "id": account_id,
        "username": handle,
        "acct": f"{handle}@{MASTODON_DOMAIN}",
        "display_name": _name(name),
        # A remote server decides these; we must never link to them as given.
        "url": f"javascript:window.__xss('mastodon-profile-{account_number}')",
        "avatar": f"javascript:window.__xss('mastodon-avatar-{account_number}')",
        "avatar_static": "data:image/svg+xml,<svg onload=window.__xss('avatar')>",
        "created_at": stamp,
        "note": "<script>window.__xss('mastodon-note')</script>",
    }
    return {
        "type": "mention",
        "created_at": stamp,
        "account": account,
        "status": {
            "id": status_id,
            "created_at": stamp,
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "visibility": visibility,
            "content": (
                f'<p><span class="h-card"><a href="https://{MASTODON_DOMAIN}/@{MUNICIPALITY_HANDLE}"'
                f' class="u-url mention">@<span>{MUNICIPALITY_HANDLE}</span></a></span></p>'
                + content
            ),
            "url": f"javascript:window.__xss('mastodon-status-{status_id}')",
            "account": account,
            "mentions": [
                {
                    "id": MASTODON_ACCOUNT_ID,
                    "username": MUNICIPALITY_HANDLE,
                    "acct": MUNICIPALITY_HANDLE,
                    "url": f"https://{MASTODON_DOMAIN}/@{MUNICIPALITY_HANDLE}",
                }
            ],
            "media_attachments": media or [],
            "tags": [],
            "emojis": [],
        },
    }


def _hostile_media(tag: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{next(_numbers)}",
            "type": "image",
            "url": f"javascript:window.__xss('{tag}-url')",
            "preview_url": f"javascript:window.__xss('{tag}-preview')",
            "description": f"<img src=x onerror=window.__xss('{tag}-alt')>",
        },
        {
            "id": f"{next(_numbers)}",
            "type": "image",
            "url": "https://images.example/foto.jpg",
            "preview_url": "data:image/svg+xml,<svg onload=window.__xss('preview')>",
            "description": f"\"><script>window.__xss('{tag}-alt2')</script>",
        },
        {
            "id": f"{next(_numbers)}",
            "type": "<script>window.__xss('kind')</script>",
            "url": "https://files.example/bestand.pdf",
            "preview_url": "",
            "description": "\u202eFDP.exe",
        },
    ]


def seed_citizens(sandbox: SandboxServer, channels: dict[str, Channel]) -> Seeded:
    """Every payload through the sandbox and the real connectors into the inbox."""
    seeded = Seeded(channels=channels)
    start = datetime.now(UTC) - timedelta(hours=2)
    moment = iter(start + timedelta(seconds=second) for second in range(100_000))
    groups = chunks(PAYLOADS)

    # X: direct messages, one conversation per chunk; names from the name payloads.
    for number, group in enumerate(groups):
        name = NAMES[number % len(NAMES)]
        for payload in group:
            text = payload.text if payload.text.strip() else payload.text + "."
            sandbox.add_direct_message(
                text=text[:10_000],
                username=f"hdm{number}",
                name=_name(name),
                created_at=next(moment),
            )
    # X: every name payload once more as a public mention (the inbox list shows them all),
    # the first with hostile media (a javascript: URL where a photo is expected).
    for number, name in enumerate(NAMES):
        sandbox.add_mention(
            text=f"Wanneer wordt de {SEARCH_WORD} gerepareerd? {number}",
            username=f"hname{number}",
            name=_name(name),
            created_at=next(moment),
            media=(
                [
                    {"type": "photo", "url": "javascript:window.__xss('x-media')"},
                    {
                        "type": "photo",
                        "url": "https://pbs.example/foto.jpg",
                        "alt_text": "<img src=x onerror=window.__xss('x-alt')>",
                    },
                ]
                if number == 0
                else None
            ),
        )

    # Mastodon: direct threads, one per chunk, with hostile handles and profile URLs;
    # the status HTML as Mastodon makes it from the text.
    for number, group in enumerate(groups):
        name = NAMES[(number + 7) % len(NAMES)]
        for index, payload in enumerate(group):
            sandbox.add_mastodon_raw_notification(
                _mastodon_notification(
                    account_number=number,
                    name=name,
                    content=mastodon_html(payload.text),
                    moment=next(moment),
                    media=_hostile_media(f"mastodon-{number}") if index == 0 else None,
                )
            )
    # Mastodon: a remote server sends the markup itself (hostile HTML, not escaped text).
    for payload in PAYLOADS:
        if payload.category in {"script", "handler", "url", "svg", "breakout", "css"}:
            sandbox.add_mastodon_raw_notification(
                _mastodon_notification(
                    account_number=100,
                    name=NAMES[3],
                    content=f"<p>{payload.text}</p>",
                    moment=next(moment),
                )
            )

    # Facebook: Messenger conversations per chunk; comments with hostile attachments.
    sandbox.add_facebook_post("Vragen over afval? Stel ze hieronder.", created_at=start)
    for number, group in enumerate(groups):
        name = NAMES[(number + 14) % len(NAMES)]
        for index, payload in enumerate(group):
            sandbox.add_facebook_message(
                payload.text if payload.text.strip() else payload.text + ".",
                _name(name),
                created_at=next(moment),
                attachments=(
                    [
                        {
                            "type": "image",
                            "image_data": {"url": "javascript:window.__xss('fb-image')"},
                        },
                        {"type": "file", "file_url": "vbscript:msgbox(1)"},
                        {
                            "mime_type": "<svg onload=window.__xss('fb-kind')>",
                            "file_url": "https://files.example/a.pdf",
                        },
                    ]
                    if index == 0
                    else None
                ),
            )
    for number, name in enumerate(NAMES[:6]):
        sandbox.add_facebook_comment(
            f"Reactie {number}: {PAYLOADS[number].text}",
            f"{_name(name)} ({number})",
            created_at=next(moment),
            attachment={
                "type": "photo",
                "media": {"image": {"src": "data:image/svg+xml,<svg onload=window.__xss(1)>"}},
                "url": f"javascript:window.__xss('fb-comment-{number}')",
                "description": "<script>window.__xss('fb-description')</script>",
            },
        )

    for channel in channels.values():
        poll_until_quiet(channel)

    for kind, channel in channels.items():
        seeded.chunk_conversations[kind] = list(
            Conversation.objects.filter(channel=channel, is_private=True)
            .order_by("id")
            .values_list("id", flat=True)
        )
    return seeded


def poll_until_quiet(channel: Channel) -> int:
    """Poll until nothing new arrives (a poll reads a bounded number of pages)."""
    total = 0
    for _ in range(20):
        outcome = channel_poll(channel_id=channel.id)
        assert outcome.succeeded, f"{channel.name}: {outcome.error}"
        total += outcome.new_messages
        if outcome.new_messages == 0:
            return total
    raise AssertionError(f"{channel.name} kept finding new messages")


def seed_staff_input(seeded: Seeded, *, admin: AgentProfile, trainee: AgentProfile) -> None:
    """What staff type, through the services: notes, tags, a canned response, a team, a
    staff member's name, a trainee's reply waiting for approval."""
    from inbox.services import (
        canned_response_create,
        conversation_tag,
        conversation_transfer,
        note_create,
        reply_create,
        staff_member_create,
        team_create,
        team_member_add,
    )
    from inbox.services.data_subjects import data_subject_request_create

    x_conversations = seeded.chunk_conversations["x"]
    first = x_conversations[0]
    seeded.note_conversation_id = first
    # NUL and lone surrogates in what staff type: tests/hostile/test_staff_input.py.
    typed = [payload for payload in PAYLOADS if storable_text(payload.text) == payload.text]
    for payload in typed[:40]:
        note_create(conversation_id=first, actor=admin.user, text=f"{payload.text} @tess")
    for payload in typed:
        if payload.as_name and len(" ".join(payload.text.split())) <= 50:
            conversation_tag(conversation_id=first, actor=admin.user, name=payload.text)
    canned_response_create(
        actor=admin.user,
        shortcut="hostile",
        title="<img src=x onerror=window.__xss('canned-title')>",
        text="Hoi {{ naam }}, <script>window.__xss('canned-text')</script> \u202egroet",
        shared=True,
    )
    team = team_create(
        actor=admin.user,
        name="<svg onload=window.__xss('team')>\u202eTeam",
        description="\"><script>window.__xss('team-description')</script>",
    )
    hostile_staff = staff_member_create(
        username="hostile",
        password=STAFF_PASSWORD,
        first_name="<img src=x onerror=window.__xss('staff-first')>",
        last_name="\u202e" + "Q" * 140,
        presence=AgentProfile.Presence.AVAILABLE,
        actor=admin.user,
    )
    team_member_add(actor=admin.user, team_id=team.id, user_id=hostile_staff.user_id)
    team_member_add(actor=admin.user, team_id=team.id, user_id=trainee.user_id)
    seeded.hostile_staff = hostile_staff
    for conversation_id in x_conversations[1:3]:
        conversation_transfer(
            conversation_id=conversation_id, actor=admin.user, to_user_id=hostile_staff.user_id
        )
    # A trainee's reply waits for approval: the approvals screen shows the citizen's text.
    reply_create(
        conversation_id=x_conversations[3],
        actor=trainee.user,
        text="<script>window.__xss('trainee-reply')</script> javascript:window.__xss('r')",
        idempotency_key=uuid.uuid4(),
        private=True,
    )
    data_subject_request_create(
        actor=admin.user,
        kind="access",
        reference="<img src=x onerror=window.__xss('dsr-reference')>",
        subject_description="\u202eAan de balie <script>window.__xss('dsr-description')</script>",
        received_at=datetime.now(UTC).date(),
    )
