"""Special categories of personal data, which plaudit refuses by design.

Political opinion, religion or belief, health, racial or ethnic origin, sex life or sexual
orientation, trade-union membership and biometric or genetic data (GDPR art. 9) are refused
whether an attribute declares them (``data_category``) or its name gives them away.
"""

from __future__ import annotations

import re

# Words (between underscores) that mark special-category data in a name. Whole words, not
# substrings: `trace_id`, `grace_days`, `archived` and `healthy_meals` are innocent. A
# trailing `*` lets the word continue (`pregnan*` covers pregnant and pregnancy).
SPECIAL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "political opinion": ("politic*", "party_affiliation", "vote", "votes", "voted", "voter",
                          "voters", "voting"),
    "religion or belief": ("religio*", "faith", "church*", "mosque*", "synagogue*",
                           "temple_visit*", "belief", "beliefs"),
    "health": ("health", "medical*", "diagnos*", "disease*", "illness*", "disabilit*",
               "disabled", "pregnan*", "prescription*", "mental", "hiv"),
    "racial or ethnic origin": ("ethnic*", "race", "racial*"),
    "sex life or sexual orientation": ("sexual*", "orientation", "gender_identity"),
    "trade union membership": ("union_member*", "trade_union*", "labor_union*",
                               "labour_union*"),
    "biometric or genetic data": ("biometric*", "fingerprint*", "face_id", "faceprint*",
                                  "iris", "retina*", "genetic*", "dna", "voiceprint*"),
}
_SPECIAL_PATTERNS = {
    category: re.compile("(?:^|_)(?:" + "|".join(
        re.escape(w.rstrip("*")) + ("[a-z0-9]*" if w.endswith("*") else "") for w in words
    ) + ")(?:_|$)")
    for category, words in SPECIAL_CATEGORIES.items()
}
DECLARED_CATEGORIES = {
    "political_opinion": "political opinion", "politics": "political opinion",
    "religion": "religion or belief", "belief": "religion or belief",
    "health": "health", "ethnicity": "racial or ethnic origin",
    "racial_or_ethnic_origin": "racial or ethnic origin",
    "sexual_orientation": "sex life or sexual orientation",
    "sex_life": "sex life or sexual orientation",
    "trade_union": "trade union membership", "union_membership": "trade union membership",
    "biometric": "biometric or genetic data", "biometrics": "biometric or genetic data",
    "genetic": "biometric or genetic data",
}
ORDINARY = ("ordinary", "none", "personal")


def special_category(name: str) -> str | None:
    """The special category a name looks like, or None."""
    lowered = name.lower()
    for category, pattern in _SPECIAL_PATTERNS.items():
        if pattern.search(lowered):
            return category
    return None


__all__ = ["DECLARED_CATEGORIES", "ORDINARY", "SPECIAL_CATEGORIES", "special_category"]
