"""Webcare signatures: the initials a team puts under a public reply (e.g. "^JdV").

Dutch webcare teams sign replies with the agent's initials after a caret, with the
lower-case particles of the surname kept lower case: Jan de Vries signs "^JdV". Citizens
then see that a person answered, and who, without a full name in public.
"""

from __future__ import annotations

from typing import Final

# Surname particles (tussenvoegsels) that keep a lower-case initial.
PARTICLES: Final = frozenset(
    {"van", "de", "der", "den", "het", "'t", "te", "ten", "ter", "in", "op", "aan", "la", "le"}
)


def initials_signature(first_name: str, last_name: str) -> str:
    """ "^JdV" for Jan de Vries; "" when the names give no letters to sign with."""
    letters = [word[0].upper() for word in first_name.split()[:1] if word[0].isalpha()]
    for word in last_name.split():
        initial = word.lstrip("'")[:1] if word.startswith("'") else word[:1]
        if not initial.isalpha():
            continue
        letters.append(initial.lower() if word.lower() in PARTICLES else initial.upper())
    return "^" + "".join(letters) if letters else ""


def signed(text: str, signature: str) -> str:
    """The reply with the signature on its own at the end, never twice."""
    text = text.rstrip()
    if not signature or text.endswith(signature):
        return text
    return f"{text} {signature}"
