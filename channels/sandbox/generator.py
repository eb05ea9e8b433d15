"""Invented but realistic Dutch messages from citizens of Demodorp to @gemeentedemodorp.

The sandbox needs a steady trickle of believable traffic so a webcare team can try the
inbox without a real X account: waste collection, parking, passports, broken street
lights and the odd complaint, written in different moods, sometimes long, sometimes with
emoji, and sometimes a follow-up in an existing thread.

Every draft is a pure function of (seed, sequence number, current timeline): the same seed
replays the same conversation, and a restarted sandbox continues where it left off instead
of repeating its first messages.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from channels.sandbox.accounts import DEMO_ACCOUNT_ID, DEMO_USERNAME, stable_user_id
from channels.tweet_text import MAX_TWEET_LENGTH, weighted_length

MENTION: Final = f"@{DEMO_USERNAME}"


@dataclass(frozen=True)
class Author:
    username: str
    name: str

    @property
    def user_id(self) -> str:
        return stable_user_id(self.username)

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


@dataclass(frozen=True)
class MessageDraft:
    """What a citizen is about to tweet; the store turns it into a tweet with an id."""

    text: str
    author: Author
    topic: str
    in_reply_to_tweet_id: str | None = None


# Invented residents (and one residents' association). Handles follow X's rules: at most
# 15 characters, letters, digits and underscores only.
AUTHORS: Final = (
    Author("sannevdberg", "Sanne van den Berg"),
    Author("j_bakker77", "Jeroen Bakker"),
    Author("fatima_elamrani", "Fatima El Amrani"),
    Author("pietjanssen", "Piet Janssen"),
    Author("marloes_d", "Marloes Dekker"),
    Author("tomvisser_", "Tom Visser"),
    Author("ingridsmit", "Ingrid Smit"),
    Author("kees_mulder", "Kees Mulder"),
    Author("lottedejong", "Lotte de Jong"),
    Author("mehmet_yilmaz", "Mehmet Yilmaz"),
    Author("annekebos", "Anneke Bos"),
    Author("ruudhendriks", "Ruud Hendriks"),
    Author("noorvermeulen", "Noor Vermeulen"),
    Author("daan_vdlinden", "Daan van der Linden"),
    Author("wilma_peters", "Wilma Peters"),
    Author("bramdevries", "Bram de Vries"),
    Author("priya_ramdin", "Priya Ramdin"),
    Author("henk1958", "Henk Willems"),
    Author("evabrouwer", "Eva Brouwer"),
    Author("sem_kok", "Sem Kok"),
    Author("ayoubbenali", "Ayoub Ben Ali"),
    Author("joke_vleeuwen", "Joke van Leeuwen"),
    Author("gerritdijkstra", "Gerrit Dijkstra"),
    Author("mirjam_prins", "Mirjam Prins"),
    Author("lucas_meijer", "Lucas Meijer"),
    Author("saskiapost", "Saskia Post"),
    Author("kevin_huisman", "Kevin Huisman"),
    Author("tineke_kuipers", "Tineke Kuipers"),
    Author("yaraschouten", "Yara Schouten"),
    Author("bertvdveen", "Bert van der Veen"),
    Author("bewonersbrink", "Bewonersvereniging De Brink"),
)
_AUTHORS_BY_ID: Final = {author.user_id: author for author in AUTHORS}

# Demodorp does not exist, and neither do most of these streets.
STREETS: Final = (
    "Klaverweide",
    "Molenakker",
    "Zwanenbloemstraat",
    "Oude Veerweg",
    "Bakkersgilde",
    "Lijsterbeslaan",
    "Pastorietuin",
    "Wilgenhoek",
    "Schapendrift",
    "Brinkzicht",
    "Korenbloemhof",
    "Turfschippersweg",
    "Hazelaarpad",
    "Dorpsakker",
    "Ganzenmarkt",
    "Tichelwerkstraat",
)
PLACES: Final = (
    "de bibliotheek",
    "het gezondheidscentrum",
    "de Ganzenmarkt",
    "het station",
    "sporthal De Brink",
)
WEEKDAYS: Final = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag")
BINS: Final = (
    "groene container",
    "grijze container",
    "blauwe papiercontainer",
    "PMD-container",
    "gft-bak",
)

# Each topic: opening questions or complaints, then optional extra sentences that make a
# message longer (and, as in real life, not always more to the point).
TOPICS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "afval_melding": (
        (
            "Onze {bin} aan de {street} is {weekday} weer niet geleegd. De rest van de "
            "straat wel. Hoe kan dat?",
            "De {bin} staat al sinds {weekday} vol aan de weg op de {street}. Wanneer komt "
            "de vuilniswagen alsnog langs?",
            "Bij het legen is de deksel van onze minicontainer afgebroken. Hoe kom ik aan "
            "een nieuwe? Adres: {street} {number}.",
            "Onze minicontainer heeft een scheur in de bodem en lekt bij elke leging. Kan "
            "die vervangen worden?",
            "Mijn grofvuilafspraak was vandaag, maar er is niemand geweest. Alles staat nog "
            "op de stoep bij {street} {number}.",
        ),
        (
            "Het is al de tweede keer deze maand.",
            "Met dit weer begint het flink te stinken.",
            "De container stond gewoon op tijd buiten, om half acht al.",
            "De buren zijn ook overgeslagen.",
            "Ik heb gebeld, maar kwam niet verder dan het keuzemenu.",
            "Ik heb er een foto van, die stuur ik graag als dat helpt.",
        ),
    ),
    "afval_vraag": (
        (
            "Hoe maak ik een afspraak om grofvuil op te laten halen? Het gaat om een oude "
            "bank en een matras.",
            "Waar vind ik de afvalkalender voor volgend jaar? Op de website staat alleen nog "
            "die van dit jaar.",
            "Klopt het dat de {bin} nu maar eens per {weeks} weken wordt geleegd? In de "
            "afvalapp staat iets anders.",
            "We zijn net verhuisd naar de {street} en er staat geen minicontainer. Hoe "
            "vraag ik er een aan?",
        ),
        (
            "Ik heb zelf geen auto om naar de milieustraat te rijden.",
            "In de afvalapp kan ik het niet vinden.",
            "Ik woon op {street} {number}, voor het geval jullie dat nodig hebben.",
        ),
    ),
    "parkeervergunning": (
        (
            "Ik woon sinds kort aan de {street}. Hoe vraag ik een bewonersvergunning aan en "
            "hoe lang duurt dat?",
            "Mijn moeder komt vaak op bezoek. Hoe werkt de bezoekersregeling precies, en "
            "hoeveel uur krijg je per jaar?",
            "Mijn bewonersvergunning verloopt volgende maand. Wordt die vanzelf verlengd of "
            "moet ik zelf iets doen?",
            "Ik heb een andere auto. Hoe zet ik mijn bewonersvergunning over op het nieuwe "
            "kenteken?",
            "De app van de bezoekersregeling werkt al sinds {weekday} niet. Mijn bezoek "
            "staat nu dus officieel fout geparkeerd 😬",
        ),
        (
            "Op de website staat alleen informatie over het centrum.",
            "Ik heb geen DigiD-app, kan het ook op papier?",
            "Er is 's avonds in de {street} bijna geen plek, dus dit is wel belangrijk.",
            "Mijn buren hebben dezelfde vraag trouwens.",
        ),
    ),
    "parkeerboete": (
        (
            "Ik kreeg een parkeerboete terwijl mijn bezoek gewoon was aangemeld. Hoe maak "
            "ik bezwaar?",
            "Een boete van €{fine} voor vijf minuten te lang parkeren bij {place}? Dat vind "
            "ik echt buiten proporties.",
            "Ik kreeg een boete in de {street}, maar daar staat nergens een bord dat je moet "
            "betalen. Hoe zit dat?",
        ),
        (
            "Ik heb de schermafbeelding van de aanmelding nog.",
            "De parkeerautomaat deed het die dag ook niet.",
            "Ik parkeer daar al jaren zonder problemen.",
        ),
    ),
    "documenten": (
        (
            "Mijn paspoort verloopt over twee weken en we gaan op vakantie. Kan ik ergens "
            "nog een spoedaanvraag doen?",
            "Hoe maak ik een afspraak voor een nieuwe ID-kaart? Online is er pas plek over "
            "{weeks} weken.",
            "Mijn portemonnee is gestolen, met rijbewijs en ID-kaart erin. Wat moet ik als "
            "eerste doen?",
            "Ik ben mijn paspoort kwijt. Moet ik eerst aangifte doen bij de politie of kan "
            "ik meteen bij jullie terecht?",
            "Mijn rijbewijs verloopt binnenkort. Kan ik het verlengen zonder afspraak of "
            "moet ik langskomen?",
            "Mijn vader is 87 en kan niet meer naar het gemeentehuis komen. Kan een ID-kaart "
            "ook thuis worden aangevraagd?",
            "Ik heb een afspraak voor een paspoort, maar mijn pasfoto is ouder dan een half "
            "jaar. Is dat een probleem?",
            "Mag iemand anders mijn nieuwe paspoort ophalen? Ik werk in ploegendienst.",
        ),
        (
            "Het online afsprakensysteem geeft steeds een foutmelding.",
            "We vertrekken over twee weken op {weekday}, dus het is krap.",
            "Ik heb het algemene nummer gebeld, maar er werd niet opgenomen.",
            "Ik kan alleen 's ochtends vroeg of na vijven.",
        ),
    ),
    "straatverlichting": (
        (
            "De lantaarnpaal voor {street} {number} is al {days} dagen kapot. Het is daar "
            "'s avonds echt pikkedonker.",
            "Op het fietspad langs de {street} doen drie lantaarnpalen het niet. Als fietser "
            "voel ik me daar niet veilig.",
            "Een lantaarnpaal op de hoek van de {street} en de {other_street} knippert de "
            "hele nacht. Kan iemand ernaar kijken?",
            "In de {street} brandt de straatverlichting overdag wel en 's avonds niet. Handig 😅",
            "Bij het speeltuintje aan de {street} is een lantaarnpaal scheef gereden. Er "
            "steken draden uit!",
        ),
        (
            "Mijn dochter fietst daar elke avond langs na haar training.",
            "Op de paal staat nummer {pole}.",
            "Ik heb het ook via het meldformulier doorgegeven, maar nooit iets gehoord.",
            "Vooral ouderen uit de buurt durven er 's avonds niet meer langs.",
        ),
    ),
    "stoep": (
        (
            "Voor {street} {number} liggen al weken losse stoeptegels. Mijn buurvrouw met "
            "rollator struikelde er bijna over.",
            "Door boomwortels ligt de stoep aan de {street} helemaal bol. Gaat daar iets aan "
            "gebeuren?",
            "Er zit een flink gat in de stoep bij de bushalte aan de {street}. Er stond een "
            "pion in, maar die is weg.",
        ),
        (
            "Met een kinderwagen moet je nu de weg op.",
            "Het is een drukke looproute naar school.",
            "Ik heb het een maand geleden ook al gemeld.",
            "Voordat er echt iemand valt...",
        ),
    ),
    "overlast": (
        (
            "Al {days} nachten herrie van een groep jongeren op het pleintje aan de "
            "{street}. Wie kan ik hiervoor bellen?",
            "Er staat al weken een aanhanger vol afval op de {street}. Mag dat zomaar?",
            "De bouwplaats aan de {street} begint elke ochtend om zes uur met heien. Is "
            "daar een vergunning voor?",
            "Bij de glasbak aan de {street} wordt steeds afval gedumpt. Dat trekt ratten aan 🐀",
        ),
        (
            "De politie verwijst me steeds door naar de gemeente.",
            "We hebben kleine kinderen die er wakker van worden.",
            "Het begint echt onveilig te voelen.",
        ),
    ),
    "woz": (
        (
            "Mijn WOZ-waarde is dit jaar {percent}% gestegen, terwijl huizen in onze straat "
            "niet eens verkopen. Hoe maak ik bezwaar?",
            "Hoe lang heb ik na de aanslag nog om bezwaar te maken tegen de WOZ-waarde?",
            "In het taxatieverslag van mijn WOZ-waarde staat een woonoppervlakte die 20 m² "
            "te groot is. Wat nu?",
        ),
        (
            "Het woningwaardeloket stuurt me terug naar jullie.",
            "De aanslag is nog niet betaald, moet dat al wel?",
        ),
    ),
}

# How often each topic comes up: waste and documents dominate a real webcare inbox.
TOPIC_WEIGHTS: Final = {
    "afval_melding": 3,
    "afval_vraag": 2,
    "parkeervergunning": 2,
    "parkeerboete": 1,
    "documenten": 4,
    "straatverlichting": 3,
    "stoep": 2,
    "overlast": 2,
    "woz": 1,
}

# Per mood: how people open, how they close, and which emoji they reach for.
TONES: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    "beleefd": (
        ("Goedemorgen!", "Goedemiddag!", "Hallo!", "Hoi!", "Beste gemeente,"),
        ("Alvast bedankt!", "Dank voor het meedenken.", "Groetjes, {first_name}", "Fijne dag!"),
        ("🙂", "🙏", "👍"),
    ),
    "geïrriteerd": (
        ("Serieus?", "Alweer.", "Ik ben het echt zat."),
        (
            "Dit kan toch niet de bedoeling zijn.",
            "Graag vandaag nog een reactie.",
            "Waar betalen we eigenlijk belasting voor?",
            "Ik verwacht echt een oplossing.",
        ),
        ("😡", "🙄", "😤"),
    ),
    "bezorgd": (
        ("Hallo,", "Beste gemeente,", "Goedenavond,"),
        (
            "Ik maak me hier best zorgen over.",
            "Kan iemand me helpen?",
            "Ik weet niet goed waar ik terecht kan.",
            "Wie kan hier iets mee?",
        ),
        ("😟", "😰", "🙏"),
    ),
}

# Follow-ups that read naturally under any topic.
NUDGES: Final = (
    "Nog steeds geen reactie. Leest hier iemand mee?",
    "Even een herinnering: mijn vraag hierboven staat nog open.",
    "Aanvulling: het speelt nu al {days} dagen en de buren hebben hetzelfde.",
    "Hallo? Ik hoor graag iets, ook als het nog even duurt.",
    "Kleine aanvulling: ik ben overdag bereikbaar, bellen mag ook.",
    "Vergeten te zeggen: het gaat om {street} {number}.",
)
REACTIONS_TO_ANSWER: Final = (
    "Dank voor de snelle reactie! 👍",
    "Bedankt, ik heb het formulier ingevuld. Hoe lang duurt het meestal?",
    "Dat had ik al geprobeerd, maar de website geeft een foutmelding.",
    "Fijn, dan wacht ik het af. Fijne dag nog!",
    "Sorry, maar hier heb ik weinig aan. Kan iemand mij gewoon terugbellen?",
    "Top, het is inmiddels opgelost. Dank jullie wel 🙏",
    "Ik heb via de link gekeken, maar ik kan mijn wijk niet vinden. Waar moet ik klikken?",
)

# Direct messages: what people do not want to ask in public. The numbers are made up and
# are not valid BSNs (they fail the eleven test), so the demo never shows a real one.
DIRECT_MESSAGES: Final = (
    "Goedemiddag, ik stuur dit liever niet openbaar. Mijn BSN is {bsn} en ik heb nog "
    "steeds geen bevestiging van mijn verhuizing naar {street} {number}. Kunt u kijken "
    "of die goed is verwerkt?",
    "Hallo, ik wil een klacht indienen over een medewerker aan de balie van het "
    "gemeentehuis, {weekday}ochtend. Ik werd voor het hele wachtende publiek uitgelachen om "
    "mijn schulden. Mijn telefoonnummer is 06-{phone}, bel me liever terug.",
    "Beste gemeente, mijn ex-partner mag mijn nieuwe adres niet weten. Ik woon nu op "
    "{street} {number}. Hoe zorg ik dat mijn adres in de BRP wordt afgeschermd?",
    "Hoi, mijn uitkering is deze maand niet overgemaakt en ik heb geen geld voor de huur. "
    "Mijn klantnummer is {customer}. Wie kan ik hierover spreken?",
    "Goedenavond, ik kreeg een brief over een naheffing parkeerbelasting op kenteken "
    "{plate}, maar die auto heb ik al sinds vorig jaar niet meer. Mijn BSN is {bsn}.",
    "Dag, de wijkverpleging komt bij mijn moeder ({street} {number}) sinds {weekday} niet "
    "meer langs. Ze is 84 en woont alleen. Bij wie moet ik zijn voor de Wmo?",
)

# A thread this long has had its follow-ups; start new conversations instead.
_MAX_THREAD_LENGTH: Final = 4
# Only recent conversations get follow-ups, as in real life.
_FOLLOW_UP_WINDOW: Final = 12


class MessageGenerator:
    """Drafts citizen messages; deterministic for a given seed and sequence number."""

    def __init__(self, seed: int, follow_up_probability: float = 0.25) -> None:
        self.seed = seed
        self.follow_up_probability = follow_up_probability

    def draft(
        self,
        sequence_number: int,
        mentions: Sequence[Mapping[str, Any]] = (),
        replies: Sequence[Mapping[str, Any]] = (),
        *,
        follow_up: bool | None = None,
    ) -> MessageDraft:
        """Draft message number ``sequence_number`` given the timeline so far.

        ``follow_up`` forces (True) or forbids (False) a follow-up in an existing thread;
        None lets chance decide. A forced follow-up without any eligible thread quietly
        becomes a new message.
        """
        # A separate generator per message (str seeds hash deterministically, unlike
        # hash()) so message n never depends on how many random numbers message n-1 drew.
        rng = random.Random(f"{self.seed}:{sequence_number}")  # noqa: S311 - not for security
        wants_follow_up = (
            rng.random() < self.follow_up_probability if follow_up is None else follow_up
        )
        if wants_follow_up:
            candidates = self._follow_up_targets(mentions, replies)
            if candidates:
                return self._follow_up(rng, rng.choice(candidates))
        return self._new_message(rng)

    def draft_direct_message(self, sequence_number: int) -> MessageDraft:
        """Draft direct message number ``sequence_number``: a privacy-sensitive question."""
        rng = random.Random(f"{self.seed}:dm:{sequence_number}")  # noqa: S311 - not for security
        author = rng.choice(AUTHORS)
        values = {
            **self._placeholder_values(rng, author),
            # Nine digits that fail the BSN eleven test, so never a real person's number.
            "bsn": _invalid_bsn(rng),
            "phone": str(rng.randint(10_000_000, 99_999_999)),
            "customer": f"DD{rng.randint(100_000, 999_999)}",
            "plate": f"{rng.choice('GHJKLNPRSTXZ')}-{rng.randint(100, 999)}-"
            f"{rng.choice('BDFGHJ')}{rng.choice('KLNPRS')}",
        }
        text = rng.choice(DIRECT_MESSAGES).format(**values)
        return MessageDraft(text=text, author=author, topic="privebericht")

    # ------------------------------------------------------------------ new threads

    def _new_message(self, rng: random.Random) -> MessageDraft:
        author = rng.choice(AUTHORS)
        topic = rng.choices(list(TOPIC_WEIGHTS), weights=list(TOPIC_WEIGHTS.values()))[0]
        tone = rng.choice(list(TONES))
        openers, closers, emoji = TONES[tone]
        cores, details = TOPICS[topic]
        values = self._placeholder_values(rng, author)

        opener = rng.choice(openers) if rng.random() < 0.6 else ""
        core = rng.choice(cores)
        # About a third of messages ramble on: those are the ones close to 280.
        detail_count = rng.choice((0, 0, 1, 1, 2, 3))
        extra = rng.sample(details, k=min(detail_count, len(details)))
        closer = rng.choice(closers) if rng.random() < 0.5 else ""
        symbol = rng.choice(emoji) if rng.random() < 0.3 else ""
        inline_mention = bool(opener) and opener.endswith((",", "!")) and rng.random() < 0.3

        parts = [core, *extra, closer, symbol]
        text = self._fit(opener, parts, values, inline_mention)
        return MessageDraft(text=text, author=author, topic=topic)

    @staticmethod
    def _placeholder_values(rng: random.Random, author: Author) -> dict[str, str]:
        street, other_street = rng.sample(STREETS, k=2)
        return {
            "street": street,
            "other_street": other_street,
            "number": str(rng.randint(1, 140)),
            "weekday": rng.choice(WEEKDAYS),
            "bin": rng.choice(BINS),
            "weeks": str(rng.choice((3, 4, 6))),
            "days": str(rng.randint(3, 21)),
            "fine": str(rng.choice((75, 95, 110))),
            "place": rng.choice(PLACES),
            "pole": f"DD-{rng.randint(1000, 9999)}",
            "percent": str(rng.randint(9, 24)),
            "first_name": author.first_name,
        }

    @staticmethod
    def _fit(opener: str, parts: list[str], values: Mapping[str, str], inline: bool) -> str:
        """Join the pieces and drop optional ones from the end until X would accept it."""
        filled = [part.format(**values) for part in parts if part]
        greeting = opener.format(**values)
        while True:
            body = " ".join(filled)
            if greeting.endswith(",") and body[1:2].islower():
                # After "Beste gemeente," the sentence carries on in lower case, except
                # when it starts with an abbreviation such as "WOZ".
                body = body[0].lower() + body[1:]
            if inline:
                # "Hallo @gemeentedemodorp, ..." instead of a leading mention.
                text = f"{greeting[:-1]} {MENTION}{greeting[-1]} {body}"
            elif greeting:
                text = f"{MENTION} {greeting} {body}"
            else:
                text = f"{MENTION} {body}"
            if weighted_length(text) <= MAX_TWEET_LENGTH:
                return text
            if len(filled) > 1:
                filled.pop()
            elif greeting:
                greeting, inline = "", False
            else:
                # Unreachable with the texts above, but never hand X an overlong tweet.
                return _truncate(text)

    # ------------------------------------------------------------------ follow-ups

    @staticmethod
    def _follow_up_targets(
        mentions: Sequence[Mapping[str, Any]], replies: Sequence[Mapping[str, Any]]
    ) -> list[tuple[Author, Mapping[str, Any]]]:
        """The latest tweet of each recent thread a generated citizen started.

        A follow-up answers either the citizen's own last tweet ("still no answer") or the
        municipality's answer to them ("thanks" / "that did not help").
        """
        threads: dict[str, list[Mapping[str, Any]]] = {}
        for tweet in sorted([*mentions, *replies], key=lambda tweet: int(tweet["id"])):
            threads.setdefault(tweet["conversation_id"], []).append(tweet)
        targets: list[tuple[Author, Mapping[str, Any]]] = []
        for conversation in list(threads.values())[-_FOLLOW_UP_WINDOW:]:
            root, last = conversation[0], conversation[-1]
            author = _AUTHORS_BY_ID.get(root["author_id"])
            if author is None or len(conversation) >= _MAX_THREAD_LENGTH:
                continue
            answered_this_author = (
                last["author_id"] == DEMO_ACCOUNT_ID
                and last.get("in_reply_to_user_id") == author.user_id
            )
            if last["author_id"] == author.user_id or answered_this_author:
                targets.append((author, last))
        return targets

    def _follow_up(
        self, rng: random.Random, target: tuple[Author, Mapping[str, Any]]
    ) -> MessageDraft:
        author, parent = target
        templates = REACTIONS_TO_ANSWER if parent["author_id"] == DEMO_ACCOUNT_ID else NUDGES
        body = rng.choice(templates).format(**self._placeholder_values(rng, author))
        return MessageDraft(
            text=f"{MENTION} {body}",
            author=author,
            topic="vervolg",
            in_reply_to_tweet_id=str(parent["id"]),
        )


def _invalid_bsn(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        weighted = sum(
            weight * digit for weight, digit in zip(range(9, 1, -1), digits[:8], strict=True)
        )
        if (weighted - digits[8]) % 11 != 0:
            return "".join(map(str, digits))


def _truncate(text: str) -> str:
    while weighted_length(text + "…") > MAX_TWEET_LENGTH:
        text = text.rsplit(" ", 1)[0]
    return text + "…"


# ---------------------------------------------------------------------- crisis bursts

# A storm over Demodorp: what thousands of residents tweet at the municipality within
# minutes (docs/performance.md, "Crisis burst"). The same hashtags recur, as they do when a
# crisis trends; the texts are the sandbox's own, like the ones above.
CRISIS_HASHTAGS: Final = ("#storm", "#Demodorp", "#codeoranje", "#stormdemodorp")
CRISIS_MESSAGES: Final = (
    "Er ligt een omgewaaide boom dwars over de {street}. Niemand kan erlangs, ook de "
    "ambulance niet!",
    "Ons dak aan de {street} {number} is half weg, de dakpannen liggen op straat. Wie komt "
    "dit afzetten?",
    "De kelder staat blank, het water komt door de putten omhoog op de {street}. Waar halen "
    "we zandzakken?",
    "Al {hours} uur geen stroom in de wijk rond de {street}. Weet iemand wanneer het terugkomt?",
    "Bij {place} is een steiger omgewaaid. Levensgevaarlijk, er lopen nog mensen langs.",
    "Is de {bin} morgen nog gewoon? Halve straat ligt vol takken en afval door de storm.",
    "De tunnel onder het spoor bij de {street} staat vol water. Auto's rijden er gewoon in!",
    "Lantaarnpaal op de {street} hangt scheef en zwiept heen en weer. Graag snel iemand sturen.",
    "Moeten de scholen morgen dicht? Op de website staat nog niets en wij moeten het nu weten.",
    "Het noodnummer op jullie site is de hele tijd in gesprek. Wat moeten we doen bij schade?",
    "Bewoners van de {street} worden geëvacueerd, maar waar is de opvang? Niemand weet iets.",
    "Grote tak op een geparkeerde auto aan de {street} {number}. Wie is aansprakelijk?",
    "Waarom horen we niets van de gemeente? Het is hier chaos op de {street}.",
    "Bedankt aan de mensen van de buitendienst die in dit weer de {street} vrijmaken 👏",
)
CRISIS_DETAILS: Final = (
    "Er zijn kinderen in huis.",
    "Mijn buurvrouw is 90 en durft niet naar buiten.",
    "Foto's kan ik sturen.",
    "De brandweer zegt dat we bij jullie moeten zijn.",
    "Het wordt alleen maar erger.",
    "Graag snel een reactie!",
)
CRISIS_FOLLOW_UPS: Final = (
    "Nog steeds niemand geweest. Het water stijgt.",
    "Update: de boom ligt er nog, nu ook de stroom uitgevallen.",
    "Is er iemand die dit leest?? Al {hours} uur wachten.",
    "Aanvulling: het gaat om {street} {number}.",
)
CRISIS_REACTIONS: Final = (
    "Hier ook! Bij ons op de {street} precies hetzelfde.",
    "Klopt, ik zag het net ook. Gemeente, doe er iets aan!",
    "Wij hebben nog zandzakken over, kom gerust langs op de {street}.",
    "Zelfde hier, al {hours} uur.",
)
CRISIS_FIRST_NAMES: Final = (
    "Anna", "Bas", "Chantal", "Dirk", "Emma", "Finn", "Gijs", "Hanna", "Iris", "Jan",
    "Kim", "Luuk", "Maud", "Nina", "Omar", "Pim", "Rosa", "Sven", "Tess", "Umut",
    "Vera", "Wout", "Yusuf", "Zoë", "Fenna", "Milan", "Jesse", "Sara", "Thijs", "Ilse",
)  # fmt: skip
CRISIS_LAST_NAMES: Final = (
    "de Boer", "Vos", "Smits", "de Graaf", "van Dam", "Koster", "Verhoeven", "Jacobs",
    "Aydin", "Wijnands", "Schipper", "Hoekstra", "Claes", "Bulut", "van Wijk", "Peeters",
)  # fmt: skip
# A storm is tweeted about by thousands once and by a few dozen again and again.
CRISIS_REPEAT_SHARE: Final = 0.2
# Shares of the burst that answer a tweet instead of starting a thread: the author's own
# follow-up, or a reaction to someone else's recent tweet.
CRISIS_FOLLOW_UP_SHARE: Final = 0.1
CRISIS_REACTION_SHARE: Final = 0.1
# Replies go to one of the burst's last this-many tweets, as people answer what they see.
CRISIS_RECENT_WINDOW: Final = 500


@dataclass(frozen=True)
class PublishedTweet:
    """What the crisis generator remembers of a burst tweet, to let others answer it."""

    tweet_id: str
    author: Author


class CrisisGenerator:
    """Drafts the tweets of a crisis burst: many authors, some very vocal, some threads.

    Deterministic for (seed, sequence number, recent tweets). Unlike `MessageGenerator` it
    never looks at the whole timeline: tens of thousands of tweets in minutes must cost the
    same each, whatever came before.
    """

    def __init__(self, seed: int, count: int) -> None:
        self.seed = seed
        # A vocal few (one per hundred tweets) post a fifth of the burst; the rest are
        # drawn from a crowd twice the burst's size, so most post once.
        self.repeat_authors = max(10, count // 100)
        self.occasional_authors = max(100, count * 2)

    def author(self, rng: random.Random) -> Author:
        repeat = rng.random() < CRISIS_REPEAT_SHARE
        # The vocal few, drawn towards the front: the most vocal tweets some 40 times.
        index = (
            min(rng.randrange(self.repeat_authors), rng.randrange(self.repeat_authors))
            if repeat
            else self.repeat_authors + rng.randrange(self.occasional_authors)
        )
        name_rng = random.Random(f"{self.seed}:crisis-author:{index}")  # noqa: S311
        first = name_rng.choice(CRISIS_FIRST_NAMES)
        last = name_rng.choice(CRISIS_LAST_NAMES)
        handle = "".join(ch for ch in first.lower() if ch.isascii() and ch.isalpha())[:6]
        return Author(f"{handle}_{index}"[:15], f"{first} {last}")

    def draft(self, sequence_number: int, recent: Sequence[PublishedTweet] = ()) -> MessageDraft:
        rng = random.Random(f"{self.seed}:crisis:{sequence_number}")  # noqa: S311
        author = self.author(rng)
        values = {
            **MessageGenerator._placeholder_values(rng, author),
            "hours": str(rng.randint(2, 9)),
        }
        hashtags = " ".join(rng.sample(CRISIS_HASHTAGS, k=rng.randint(1, 2)))
        chance = rng.random()
        if recent and chance < CRISIS_FOLLOW_UP_SHARE + CRISIS_REACTION_SHARE:
            own = [tweet for tweet in recent if tweet.author == author]
            others = [tweet for tweet in recent if tweet.author != author]
            parent: PublishedTweet | None = None
            if chance < CRISIS_FOLLOW_UP_SHARE and own:
                parent, templates = own[-1], CRISIS_FOLLOW_UPS
            elif others:
                parent, templates = rng.choice(others), CRISIS_REACTIONS
            if parent is not None:
                body = rng.choice(templates).format(**values)
                return MessageDraft(
                    text=MessageGenerator._fit("", [body, hashtags], values, inline=False),
                    author=author,
                    topic="crisis",
                    in_reply_to_tweet_id=parent.tweet_id,
                )
        detail = rng.choice(CRISIS_DETAILS) if rng.random() < 0.4 else ""
        text = MessageGenerator._fit(
            "", [rng.choice(CRISIS_MESSAGES), hashtags, detail], values, inline=False
        )
        return MessageDraft(text=text, author=author, topic="crisis")
