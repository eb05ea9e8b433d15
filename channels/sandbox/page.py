"""The sandbox's own web page and the avatars it serves in place of X's profile pictures.

The page is how a person (a tester, a product owner in a demo) sees that a reply sent
from the inbox "arrived on X". It is plain server-rendered HTML that works without CSS or
JavaScript, because it is also the thing screen-reader users of the team will check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC
from html import escape
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from channels.sandbox.accounts import DEMO_ACCOUNT_ID, DEMO_NAME, DEMO_USERNAME
from channels.sandbox.store import DmEvent, Tweet, User, parse_timestamp

PAGE_TITLE: Final = f"Sandbox-platform — {DEMO_NAME}"
REFRESH_SECONDS: Final = 5
RECENT_MENTIONS_SHOWN: Final = 25
# A query parameter that switches the auto-refresh off: a page that reloads every few
# seconds keeps moving a screen reader's focus, so users need a way to stop it.
NO_REFRESH_PARAMETER: Final = "verversen"

_STYLE: Final = """
body { font-family: system-ui, sans-serif; font-size: 1rem; line-height: 1.5;
       color: #1b1b1b; background: #ffffff; margin: 0 auto; max-width: 70rem; padding: 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; }
caption { text-align: left; font-weight: bold; padding: 0.5rem 0; }
th, td { border: 1px solid #595959; padding: 0.5rem; text-align: left; vertical-align: top; }
thead th { background: #e8e8e8; }
a { color: #0b4f9c; } a:focus { outline: 3px solid #1b1b1b; outline-offset: 2px; }
.handle { font-weight: bold; } .quote { white-space: pre-wrap; }
"""


def _local_zone() -> ZoneInfo | None:
    try:
        return ZoneInfo("Europe/Amsterdam")
    except ZoneInfoNotFoundError:  # a container without tzdata: fall back to UTC
        return None


def _time_cell(created_at: str) -> str:
    moment = parse_timestamp(created_at)
    zone = _local_zone()
    local = moment.astimezone(zone) if zone else moment.astimezone(UTC)
    label = local.strftime("%d-%m-%Y %H:%M") + ("" if zone else " UTC")
    return f'<time datetime="{escape(created_at)}">{escape(label)}</time>'


def _author(user: User | None) -> str:
    if user is None:
        return "onbekende afzender"
    return f'<span class="handle">@{escape(user["username"])}</span> ({escape(user["name"])})'


def render_page(
    mentions: Sequence[Tweet],
    replies: Sequence[Tweet],
    users: Mapping[str, User],
    tweets_by_id: Mapping[str, Tweet],
    auto_refresh: bool = True,
    direct_messages: Sequence[DmEvent] = (),
    mastodon_replies: Sequence[Mapping[str, str]] = (),
    facebook_replies: Sequence[Mapping[str, str]] = (),
) -> str:
    """The whole page. Every piece of tweet or user text goes through html.escape."""
    refresh = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if auto_refresh else ""
    refresh_toggle = (
        f"Deze pagina ververst zichzelf elke {REFRESH_SECONDS} seconden. "
        f'<a href="/?{NO_REFRESH_PARAMETER}=uit">Automatisch verversen uitzetten</a>'
        if auto_refresh
        else 'Automatisch verversen staat uit. <a href="/">Weer aanzetten</a>'
    )
    answered_ids = {
        reference["id"]
        for reply in replies
        for reference in reply.get("referenced_tweets", [])
        if reference["type"] == "replied_to"
    }
    newest_replies = sorted(replies, key=lambda tweet: int(tweet["id"]), reverse=True)
    newest_direct_replies = sorted(
        (event for event in direct_messages if event["sender_id"] == DEMO_ACCOUNT_ID),
        key=lambda event: int(event["id"]),
        reverse=True,
    )
    newest_mentions = sorted(mentions, key=lambda tweet: int(tweet["id"]), reverse=True)[
        :RECENT_MENTIONS_SHOWN
    ]
    return f"""<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{refresh}
<title>{escape(PAGE_TITLE)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>{escape(PAGE_TITLE)}</h1>
<p>Dit is een nagebootste versie van X (Twitter), Facebook en Mastodon voor het account
<span class="handle">@{escape(DEMO_USERNAME)}</span>. Wat de webcare-inbox hier plaatst,
is nergens anders te zien.</p>
<p>{refresh_toggle}</p>
</header>
<main>
<section aria-labelledby="antwoorden">
<h2 id="antwoorden">Geplaatste antwoorden ({len(newest_replies)})</h2>
{_replies_table(newest_replies, users, tweets_by_id)}
</section>
<section aria-labelledby="priveberichten">
<h2 id="priveberichten">Verstuurde privéberichten ({len(newest_direct_replies)})</h2>
{_direct_replies_table(newest_direct_replies, users)}
</section>
<section aria-labelledby="mastodon">
<h2 id="mastodon">Antwoorden op Mastodon ({len(mastodon_replies)})</h2>
{_mastodon_replies_table(mastodon_replies)}
</section>
<section aria-labelledby="facebook">
<h2 id="facebook">Antwoorden op Facebook ({len(facebook_replies)})</h2>
{_facebook_replies_table(facebook_replies)}
</section>
<section aria-labelledby="berichten">
<h2 id="berichten">Recente berichten van inwoners</h2>
{_mentions_table(newest_mentions, users, answered_ids)}
</section>
</main>
</body>
</html>
"""


def _replies_table(
    replies: Sequence[Tweet], users: Mapping[str, User], tweets_by_id: Mapping[str, Tweet]
) -> str:
    if not replies:
        return "<p>Er zijn nog geen antwoorden geplaatst.</p>"
    rows = []
    for reply in replies:
        parent_id = reply.get("referenced_tweets", [{}])[0].get("id")
        parent = tweets_by_id.get(parent_id) if parent_id else None
        if parent is None:
            answered = "Geen: dit is een los bericht."
        else:
            answered = (
                f"{_author(users.get(parent['author_id']))}: "
                f'<span class="quote">{escape(parent["text"])}</span>'
            )
        rows.append(
            f'<tr><th scope="row">{_time_cell(reply["created_at"])}</th>'
            f'<td class="quote">{escape(reply["text"])}</td><td>{answered}</td></tr>'
        )
    return (
        "<table>\n<caption>Antwoorden van de gemeente op X, nieuwste eerst</caption>\n"
        '<thead><tr><th scope="col">Tijd</th><th scope="col">Antwoord</th>'
        '<th scope="col">Bericht van de inwoner</th></tr></thead>\n'
        f"<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>"
    )


def _direct_replies_table(direct_replies: Sequence[DmEvent], users: Mapping[str, User]) -> str:
    if not direct_replies:
        return "<p>Er zijn nog geen privéberichten verstuurd.</p>"
    rows = []
    for event in direct_replies:
        # A one-to-one conversation id is the two user ids; the other one is the citizen.
        other_ids = [
            user_id
            for user_id in event["dm_conversation_id"].split("-")
            if user_id != DEMO_ACCOUNT_ID
        ]
        recipient = users.get(other_ids[0]) if other_ids else None
        rows.append(
            f'<tr><th scope="row">{_time_cell(event["created_at"])}</th>'
            f"<td>{_author(recipient)}</td>"
            f'<td class="quote">{escape(event["text"])}</td></tr>'
        )
    return (
        "<table>\n<caption>Privéberichten (DM) van de gemeente, nieuwste eerst</caption>\n"
        '<thead><tr><th scope="col">Tijd</th><th scope="col">Aan</th>'
        '<th scope="col">Bericht</th></tr></thead>\n'
        f"<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>"
    )


def _mastodon_replies_table(replies: Sequence[Mapping[str, str]]) -> str:
    """Rows prepared by the server: created_at, visibility, text, parent_acct, parent_text."""
    if not replies:
        return "<p>Er zijn nog geen antwoorden op Mastodon geplaatst.</p>"
    rows = []
    for reply in replies:
        visibility = "privé (direct)" if reply["visibility"] == "direct" else "openbaar"
        if reply["parent_text"]:
            answered = (
                f'<span class="handle">@{escape(reply["parent_acct"])}</span>: '
                f'<span class="quote">{escape(reply["parent_text"])}</span>'
            )
        else:
            answered = "Geen: dit is een los bericht."
        rows.append(
            f'<tr><th scope="row">{_time_cell(reply["created_at"])}</th>'
            f"<td>{escape(visibility)}</td>"
            f'<td class="quote">{escape(reply["text"])}</td><td>{answered}</td></tr>'
        )
    return (
        "<table>\n<caption>Antwoorden van de gemeente op Mastodon, nieuwste eerst</caption>\n"
        '<thead><tr><th scope="col">Tijd</th><th scope="col">Zichtbaarheid</th>'
        '<th scope="col">Antwoord</th><th scope="col">Bericht van de inwoner</th></tr></thead>\n'
        f"<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>"
    )


def _facebook_replies_table(replies: Sequence[Mapping[str, str]]) -> str:
    """Rows prepared by the server: created_at, kind, text, to (name), to_text."""
    if not replies:
        return "<p>Er zijn nog geen antwoorden op Facebook geplaatst.</p>"
    rows = [
        f'<tr><th scope="row">{_time_cell(reply["created_at"])}</th>'
        f"<td>{escape(reply['kind'])}</td>"
        f'<td class="quote">{escape(reply["text"])}</td>'
        f"<td>{escape(reply['to'])}: "
        f'<span class="quote">{escape(reply["to_text"])}</span></td></tr>'
        for reply in replies
    ]
    return (
        "<table>\n<caption>Antwoorden van de gemeente op Facebook, nieuwste eerst</caption>\n"
        '<thead><tr><th scope="col">Tijd</th><th scope="col">Soort</th>'
        '<th scope="col">Antwoord</th><th scope="col">Aan</th></tr></thead>\n'
        f"<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>"
    )


def _mentions_table(
    mentions: Sequence[Tweet], users: Mapping[str, User], answered_ids: set[str]
) -> str:
    if not mentions:
        return "<p>Er zijn nog geen berichten van inwoners.</p>"
    rows = [
        f'<tr><th scope="row">{_time_cell(tweet["created_at"])}</th>'
        f"<td>{_author(users.get(tweet['author_id']))}</td>"
        f'<td class="quote">{escape(tweet["text"])}</td>'
        f"<td>{'ja' if tweet['id'] in answered_ids else 'nee'}</td></tr>"
        for tweet in mentions
    ]
    return (
        f"<table>\n<caption>De laatste {len(mentions)} berichten aan "
        f"@{escape(DEMO_USERNAME)}, nieuwste eerst</caption>\n"
        '<thead><tr><th scope="col">Tijd</th><th scope="col">Afzender</th>'
        '<th scope="col">Bericht</th><th scope="col">Beantwoord</th></tr></thead>\n'
        f"<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>"
    )


# Dark backgrounds only, so white initials keep a contrast ratio above 4.5:1.
_AVATAR_COLOURS: Final = ("#1d4e89", "#7a1f5c", "#2d5a27", "#8a3b12", "#4b3f8f", "#0f5e5e")


def render_avatar(user: Mapping[str, Any]) -> str:
    """A small SVG with the user's initials, served where X would serve a photo."""
    initials = "".join(part[0] for part in str(user["name"]).split()[:2]).upper() or "?"
    digest = hashlib.sha256(str(user["id"]).encode()).digest()
    colour = _AVATAR_COLOURS[digest[0] % len(_AVATAR_COLOURS)]
    label = escape(f"Profielfoto van {user['name']}")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 48 48" '
        f'role="img" aria-label="{label}">'
        f'<circle cx="24" cy="24" r="24" fill="{colour}"/>'
        '<text x="24" y="30" text-anchor="middle" font-family="sans-serif" font-size="18" '
        f'fill="#ffffff">{escape(initials)}</text></svg>'
    )


# What a citizen photographs, per topic of the generator, as (label, colour).
PHOTO_SUBJECTS: Final = {
    "straatverlichting": ("Kapotte lantaarnpaal", "#3b4a6b"),
    "stoep": ("Losliggende stoeptegels", "#7a6a58"),
    "afval_melding": ("Volle container", "#3f6b3b"),
}


def render_photo(subject: str) -> str | None:
    """A stand-in for a citizen's photo: an SVG with what it shows, like X's media URLs."""
    if subject not in PHOTO_SUBJECTS:
        return None
    label, colour = PHOTO_SUBJECTS[subject]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480" viewBox="0 0 640 480" '
        f'role="img" aria-label="{escape(label)}">'
        f'<rect width="640" height="480" fill="{colour}"/>'
        '<text x="320" y="250" text-anchor="middle" font-family="sans-serif" font-size="36" '
        f'fill="#ffffff">{escape(label)}</text></svg>'
    )
