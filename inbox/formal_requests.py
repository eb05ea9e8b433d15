"""Messages that look like a formal request: an objection, an application, a Woo request or a
complaint (docs/architecture.md, "Guards on incoming messages").

Such a request cannot be made through social media: it has its own official route and a
statutory term (Algemene wet bestuursrecht, Wet open overheid). Ingest marks the message
(`Message.formal_request_kinds`), the thread and the inbox show it, and the composer offers
an answer that points the citizen to the official route (inbox/guards.py).

Pure functions, no Django. Precision first: a badge that cries wolf is soon ignored, so each
kind needs words that say the citizen wants to make (or asks how to make) such a request:
"ik maak bezwaar", "hoe vraag ik een vergunning aan", "Woo-verzoek", "ik wil een klacht
indienen". Mere mentions are left alone: "geen klachten", "de aanvraag van de vergunning is
binnen" (a status question), "ik heb een vergunning aangevraagd". A negation shortly before
the words in the same clause ("ik wil geen klacht indienen") cancels them. The labelled
examples in tests/inbox/formal_requests_corpus.py pin this down.
"""

from __future__ import annotations

import re
from typing import Final

OBJECTION: Final = "objection"
APPLICATION: Final = "application"
WOO_REQUEST: Final = "woo_request"
COMPLAINT: Final = "complaint"
KINDS: Final = (OBJECTION, APPLICATION, WOO_REQUEST, COMPLAINT)

# A cheap first look: text without any of these stems is no formal request, and most
# messages are not, so ingest pays for the patterns only where they can match.
_STEMS: Final = re.compile(
    r"bezwa|beroep|aanvra|vraag|vroeg|woo|wob|openbaarheid|open overheid|klacht|klaag|klag"
    r"|object|appeal|appli|apply|complain|freedom of information|foi",
    re.IGNORECASE,
)

# Between a verb and its object: a few words, never across a sentence or a clause.
_GAP: Final = r"[^.!?;,\n]{0,60}?"
_NOUNS: Final = (
    r"(?:(?:omgevings|parkeer|kap|bouw|evenementen|horeca|drank)?vergunning|subsidie|uitkering"
    r"|paspoort|rijbewijs|id-kaart|identiteitskaart|bijstand|kwijtschelding|uittreksel"
    r"|verklaring omtrent het gedrag|vog|gehandicaptenparkeerkaart|ontheffing|toeslag"
    r"|wmo-voorziening|voorziening|huisnummer|uitrit|standplaats)"
)

PATTERNS: Final[dict[str, tuple[re.Pattern[str], ...]]] = {
    OBJECTION: (
        re.compile(
            r"\bbezwaar(?:schrift)?\s+(?:aan)?tekenen\b|\bbezwaar\s+(?:maken|indienen|in\s+te"
            r"\s+dienen|aan\s+te\s+tekenen|te\s+maken)\b|\bbezwaarschrift\b"
            r"|\b(?:maak|maken|teken|tekenen|dien|dienen)\s+(?:ik\s+|wij\s+|we\s+)?"
            r"(?:hierbij\s+|bij\s+deze\s+)?(?:formeel\s+)?bezwaar\b"
            r"|\bhierbij\s+(?:formeel\s+)?bezwaar\b"
            r"|\bin\s+beroep\s+(?:gaan|te\s+gaan)\b|\b(?:ga|gaan)\s+(?:ik\s+|we\s+)?in\s+beroep\b"
            r"|\bberoep\s+(?:aantekenen|instellen|aan\s+te\s+tekenen|in\s+te\s+stellen)\b"
            r"|\bteken\s+(?:ik\s+)?(?:hierbij\s+)?beroep\s+aan\b",
            re.IGNORECASE,
        ),
        re.compile(
            r"\b(?:file|lodge|submit|make|filing|lodging)\s+(?:an?\s+|my\s+)?(?:formal\s+)?"
            r"(?:objection|appeal)\b|\bnotice\s+of\s+objection\b"
            r"|\bi\s+(?:hereby\s+)?(?:formally\s+)?object\s+to\b"
            r"|\b(?:i|we)\s+(?:want|wish|would\s+like|intend)\s+to\s+(?:formally\s+)?"
            r"(?:object\s+to|appeal)\b|\bappeal\s+against\s+(?:the|this|your)\s+decision\b",
            re.IGNORECASE,
        ),
    ),
    APPLICATION: (
        re.compile(
            r"\b(?:ik|wij|we)\s+(?:wil|willen|zou|zouden|moet|moeten|ga|gaan)\s+" + _GAP + r"\b"
            r"aan(?:vragen|\s+te\s+vragen|\s+vragen)\b"
            r"|\bhoe\s+(?:vraag|vragen)\s+(?:ik|je|u|we|wij)\b" + _GAP + r"\baan\b"
            r"|\bwaar\s+(?:kan|moet)\s+(?:ik|je|u|we)\b" + _GAP + r"\baan(?:vragen|\s+vragen)\b"
            r"|\bhoe\s+(?:kan|moet)\s+(?:ik|je|u|we)\b" + _GAP + r"\baan(?:vragen|\s+vragen)\b"
            r"|\b(?:een\s+)?aanvraag\s+(?:in\s*dienen|doen|in\s+te\s+dienen|te\s+doen)\b"
            r"|\b(?:dien|dienen)\s+(?:ik|we|wij)\s+(?:hierbij\s+)?(?:een\s+)?aanvraag\b"
            r"|\bhierbij\s+vraag\s+ik\b"
            r"|\b" + _NOUNS + r"\s+(?:aanvragen|aan\s+te\s+vragen)\b",
            re.IGNORECASE,
        ),
        re.compile(
            r"\b(?:i|we)\s+(?:want|wish|would\s+like|'d\s+like|need|intend)\s+to\s+apply\s+for\b"
            r"|\bhow\s+(?:do|can|should)\s+(?:i|we)\s+apply\s+for\b"
            r"|\b(?:submit|file|make)\s+an?\s+application\b"
            r"|\bapply\s+for\s+an?\s+(?:permit|licen[cs]e|passport|grant|benefit|exemption)\b",
            re.IGNORECASE,
        ),
    ),
    WOO_REQUEST: (
        re.compile(
            r"\bw(?:oo|ob)[- ]?verzoek\b|\bop\s+(?:grond|basis)\s+van\s+de\s+(?:woo|wob"
            r"|wet\s+open\s+overheid|wet\s+openbaarheid\s+van\s+bestuur)\b"
            r"|\b(?:woo|wob)-aanvraag\b",
            re.IGNORECASE,
        ),
        re.compile(
            r"\b(?:freedom\s+of\s+information|foi|woo|wob)\s+request\b"
            r"|\bunder\s+the\s+(?:woo|wob|open\s+government\s+act|freedom\s+of\s+information)\b",
            re.IGNORECASE,
        ),
    ),
    COMPLAINT: (
        re.compile(
            r"\b(?:formele\s+)?klacht\s+(?:indienen|in\s+te\s+dienen|neerleggen)\b"
            r"|\b(?:dien|dienen)\s+(?:ik|we|wij)\s+(?:hierbij\s+)?(?:een\s+)?(?:formele\s+)?"
            r"klacht\b"
            r"|\b(?:ik|wij|we)\s+(?:wil|willen|heb|hebben)\s+(?:graag\s+)?(?:een\s+)?"
            r"(?:formele\s+|officiële\s+)?klacht\b"
            r"|\bhierbij\s+(?:een\s+)?(?:formele\s+)?klacht\b"
            r"|\bformele\s+klacht\b"
            r"|\b(?:ik|wij|we)\s+(?:wil|willen)\s+(?:graag\s+)?klagen\b"
            r"|\bwaar\s+kan\s+(?:ik|je|u)\s+(?:een\s+)?klacht\b",
            re.IGNORECASE,
        ),
        re.compile(
            r"\b(?:file|lodge|submit|make|filing|lodging)\s+an?\s+(?:formal\s+|official\s+)?"
            r"complaint\b|\bformal\s+complaint\b"
            r"|\b(?:i|we)\s+(?:want|wish|would\s+like|'d\s+like)\s+to\s+complain\b"
            r"|\b(?:i|we)\s+have\s+an?\s+complaint\b",
            re.IGNORECASE,
        ),
    ),
}

# A negation in the same clause, shortly before: "ik heb geen klacht", "we don't want to
# complain", "zonder bezwaar". Checked on the text before a match.
_NEGATION: Final = re.compile(
    r"\b(?:geen|niet|nooit|zonder|no|not|never|without|don't|dont|won't|didn't)\b"
    r"[^.!?;,\n]{0,25}$",
    re.IGNORECASE,
)
_NEGATION_REACH: Final = 40


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION.search(text[max(0, start - _NEGATION_REACH) : start]))


def _negation_inside(match: re.Match[str]) -> bool:
    """A negation inside the matched words: "ik wil geen vergunning aanvragen"."""
    return bool(re.search(r"\b(?:geen|niet|no|not|never|nooit)\b", match.group(), re.IGNORECASE))


def find_formal_requests(text: str) -> list[str]:
    """The kinds of formal request `text` looks like, in KINDS order ([] for most texts)."""
    if not _STEMS.search(text):
        return []
    found = []
    for kind in KINDS:
        for pattern in PATTERNS[kind]:
            if any(
                not _negated(text, match.start()) and not _negation_inside(match)
                for match in pattern.finditer(text)
            ):
                found.append(kind)
                break
    return found
