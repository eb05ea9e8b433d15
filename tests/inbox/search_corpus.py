"""Many Dutch-ish messages, notes and contacts at once, for the search plan test and the
search benchmark (bench/micro/test_search_speed.py).

Straight SQL (`INSERT … SELECT generate_series`) rather than services: 200,000 messages
through the ingest path would take many minutes, and search only reads these rows.
"""

from __future__ import annotations

from django.db import connection

from channels.models import Channel

# Words citizens use with a municipality, and filler. Uniform picks of ~12 words per message
# out of these put a common word like "container" in about one message in eleven.
WORDS = [
    "container",
    "containers",
    "kliko",
    "afval",
    "grofvuil",
    "ophalen",
    "opgehaald",
    "ophaaldag",
    "vuilniszak",
    "papier",
    "glas",
    "plastic",
    "gft",
    "restafval",
    "milieustraat",
    "lantaarnpaal",
    "lantaarnpalen",
    "kapot",
    "kapotte",
    "lamp",
    "straatverlichting",
    "stoep",
    "losse",
    "tegel",
    "tegels",
    "gat",
    "weg",
    "fietspad",
    "parkeren",
    "parkeervergunning",
    "boete",
    "wegsleep",
    "afvalpas",
    "paspoort",
    "rijbewijs",
    "afspraak",
    "gemeentehuis",
    "balie",
    "loket",
    "openingstijden",
    "melding",
    "storing",
    "lekkage",
    "riool",
    "putdeksel",
    "boom",
    "takken",
    "snoeien",
    "gras",
    "maaien",
    "onkruid",
    "speeltuin",
    "hondenpoep",
    "zwerfafval",
    "graffiti",
    "overlast",
    "lawaai",
    "buren",
    "feest",
    "vuurwerk",
    "wateroverlast",
    "regen",
    "verkeer",
    "drempel",
    "snelheid",
    "school",
    "bus",
    "tram",
    "station",
    "markt",
    "evenement",
    "vergunning",
    "bouw",
    "sloop",
    "subsidie",
    "belasting",
    "aanslag",
    "ozb",
    "toeslag",
    "uitkering",
    "wmo",
    "zorg",
    "jeugd",
    "sport",
    "bibliotheek",
    "zwembad",
    "mijn",
    "de",
    "het",
    "een",
    "is",
    "niet",
    "wel",
    "al",
    "weer",
    "nog",
    "steeds",
    "sinds",
    "gisteren",
    "vandaag",
    "morgen",
    "week",
    "maand",
    "straat",
    "hoek",
    "nummer",
    "wijk",
    "buurt",
    "centrum",
    "dorp",
    "stad",
    "bij",
    "naast",
    "voor",
    "achter",
    "op",
    "in",
    "aan",
    "van",
    "graag",
    "snel",
    "hulp",
    "vraag",
    "antwoord",
    "bedankt",
    "dank",
    "groet",
    "hallo",
    "goedemorgen",
    "alstublieft",
    "please",
    "wanneer",
    "waarom",
    "hoe",
    "wie",
    "waar",
    "kan",
    "kunnen",
    "moet",
    "moeten",
    "wordt",
    "worden",
    "heeft",
    "hebben",
    "gaat",
    "gaan",
]

FIRST_NAMES = [
    "jan",
    "piet",
    "klaas",
    "anouk",
    "bram",
    "lotte",
    "sanne",
    "daan",
    "emma",
    "lucas",
    "noah",
    "julia",
    "tess",
    "sem",
    "lieke",
    "fleur",
    "ruben",
    "mila",
    "finn",
    "sara",
    "thijs",
    "eva",
    "jesse",
    "iris",
]
LAST_NAMES = [
    "jansen",
    "devries",
    "bakker",
    "visser",
    "smit",
    "meijer",
    "mulder",
    "bos",
    "vos",
    "peters",
    "hendriks",
    "dekker",
    "vanleeuwen",
    "dijkstra",
    "brouwer",
    "deboer",
]


def _array(words: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{word}'" for word in words) + "]"


def generate_search_corpus(
    channel: Channel, *, contacts: int, conversations: int, messages: int, notes: int
) -> None:
    """Contacts `1..contacts`, of whom the first `conversations` each have one conversation;
    messages and notes spread over those conversations and the last two years."""
    words = _array(list(WORDS))
    first_names = _array(FIRST_NAMES)
    last_names = _array(LAST_NAMES)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.5)")
        cursor.execute(
            f"""
            INSERT INTO inbox_contact (channel_id, external_id, username, display_name,
                avatar_url, category, created_at, updated_at)
            SELECT %s, 'corpus-' || g,
                ({first_names})[1 + g %% {len(FIRST_NAMES)}] || '_' || g,
                initcap(({first_names})[1 + g %% {len(FIRST_NAMES)}]) || ' '
                    || initcap(({last_names})[1 + (g / {len(FIRST_NAMES)}) %% {len(LAST_NAMES)}]),
                '', 'citizen', now(), now()
            FROM generate_series(1, %s) AS g
            """,  # noqa: S608 - only our own constant words are formatted in
            [channel.id, contacts],
        )
        cursor.execute(
            """
            INSERT INTO inbox_conversation (channel_id, contact_id, external_thread_id,
                is_private, status, priority, first_inbound_at, last_inbound_at,
                last_activity_at, created_at)
            SELECT %s, contact.id, 'corpus-' || contact.id, false,
                (ARRAY['open', 'pending', 'resolved', 'resolved'])[1 + contact.id %% 4], 2,
                now() - interval '2 years', now() - (contact.id %% 700) * interval '1 day',
                now() - (contact.id %% 700) * interval '1 day', now()
            FROM inbox_contact AS contact
            WHERE contact.channel_id = %s AND contact.external_id LIKE 'corpus-%%'
            ORDER BY contact.id
            LIMIT %s
            """,
            [channel.id, channel.id, conversations],
        )
        cursor.execute(
            "SELECT array_agg(id ORDER BY id), array_agg(contact_id ORDER BY id)"
            " FROM inbox_conversation WHERE channel_id = %s AND external_thread_id LIKE"
            " 'corpus-%%'",
            [channel.id],
        )
        conversation_ids, contact_ids = cursor.fetchone()
        cursor.execute(
            f"""
            INSERT INTO inbox_message (conversation_id, channel_id, direction, external_id,
                in_reply_to_external_id, author_contact_id, text, is_private, attachments,
                sent_at, delivered_at, raw, delivery_status, delivery_error, delivery_attempts,
                approval_reason, review_feedback, created_at)
            SELECT conversation_ids[1 + g %% %(count)s],
                %(channel)s,
                CASE WHEN g %% 3 = 0 THEN 'outbound' ELSE 'inbound' END,
                'corpus-' || g, '',
                CASE WHEN g %% 3 = 0 THEN NULL ELSE contact_ids[1 + g %% %(count)s] END,
                array_to_string(ARRAY(
                    SELECT ({words})[1 + floor(random() * {len(WORDS)})::int]
                    FROM generate_series(1, 6 + (g %% 14))
                    AS word), ' '),
                false, '[]',
                now() - (g %% 730) * interval '1 day' - (g %% 1440) * interval '1 minute',
                CASE WHEN g %% 3 = 0 THEN
                    now() - (g %% 730) * interval '1 day' - (g %% 1440) * interval '1 minute'
                END,
                '{{}}', CASE WHEN g %% 3 = 0 THEN 'sent' END, '', 0, '', '', now()
            FROM generate_series(1, %(messages)s) AS g,
                (SELECT %(conversation_ids)s::bigint[] AS conversation_ids,
                        %(contact_ids)s::bigint[] AS contact_ids) AS ids
            """,  # noqa: S608 - only our own constant words are formatted in
            {
                "channel": channel.id,
                "count": len(conversation_ids),
                "messages": messages,
                "conversation_ids": conversation_ids,
                "contact_ids": contact_ids,
            },
        )
        cursor.execute(
            f"""
            INSERT INTO inbox_note (conversation_id, text, created_at)
            SELECT conversation_ids[1 + g %% %(count)s],
                array_to_string(ARRAY(
                    SELECT ({words})[1 + floor(random() * {len(WORDS)})::int]
                    FROM generate_series(1, 5 + (g %% 8)) AS word), ' '),
                now() - (g %% 730) * interval '1 day'
            FROM generate_series(1, %(notes)s) AS g,
                (SELECT %(conversation_ids)s::bigint[] AS conversation_ids) AS ids
            """,  # noqa: S608 - only our own constant words are formatted in
            {"count": len(conversation_ids), "notes": notes, "conversation_ids": conversation_ids},
        )
        # Fresh rows have no statistics; a live database is analysed by autovacuum.
        cursor.execute("ANALYZE inbox_contact, inbox_conversation, inbox_message, inbox_note")
