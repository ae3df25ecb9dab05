"""Which municipality profile an application's OKTMO code names: resolved, never guessed.

OKTMO (OK 033-2013) codes are hierarchical: digits 1–2 the region, 3–5 the municipal
district or urban okrug, 6–8 a settlement inside it; an 11-digit code adds a populated
place (digits 9–11).  A profile names its municipality with the 8-digit code (``oktmo`` in
the profile file).  An application's code resolves to the profile whose code it equals on
the first 8 digits, or — for a profile code ending in ``000`` (a whole district or okrug) —
whose first 5 digits it shares: a settlement of the district.  Anything else, or a code two
profiles would claim, resolves to nothing, and the application is refused with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.municipalities import Profile

_CODE = re.compile(r"^\d{8}(\d{3})?$")


def covers(profile_code: str, code: str) -> bool:
    """Whether the profile's 8-digit code covers the application's 8- or 11-digit ``code``."""
    if not _CODE.match(code) or not re.fullmatch(r"\d{8}", profile_code):
        return False
    head = code[:8]
    if head == profile_code:
        return True
    return profile_code.endswith("000") and head[:5] == profile_code[:5]


def resolve(profiles: Iterable[Profile], code: str) -> Profile | None:
    """The one profile covering ``code``; ``None`` when no profile or more than one does."""
    found = [p for p in profiles if p.oktmo is not None and covers(p.oktmo, code)]
    exact = [p for p in found if p.oktmo == code[:8]]
    if len(exact) == 1:
        return exact[0]
    return found[0] if len(found) == 1 else None
