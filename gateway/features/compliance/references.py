"""Which ids of a municipality's profile a compliance matrix may name, by kind.

Rule codes are not in the profile: they are the codes the rule checks create, and the tests
of this feature read them from the source (an AST scan), so a new code nobody mapped fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.features.compliance.model import Kind
from gateway.municipalities import Profile

#: Profile sections that open deadlines, named by a ``deadline`` reference beside the step ids:
#: a section by its name (``annual_order``), a list section's items by their own ``id`` or
#: ``kind`` (``decree_deadlines``: ``provider_registry``), as ``GET /api/v1/deadlines`` names
#: them.  A new deadline section of the profile is added here; a name the profile lacks is ignored.
DEADLINE_SECTIONS = ("annual_order", "publication", "agreement_signing", "decree_deadlines")


def _item_id(item: Any) -> str | None:
    for name in ("id", "kind"):
        value = getattr(item, name, None)
        if isinstance(value, str):
            return value
    return None


def _section_ids(name: str, value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, list):
        return {key for item in value if (key := _item_id(item)) is not None}
    return {name}


def deadline_ids(profile: Profile) -> set[str]:
    ids = {step.id for step in profile.steps}
    for name in DEADLINE_SECTIONS:
        ids |= _section_ids(name, getattr(profile, name, None))
    return ids


def profile_ids(profile: Profile) -> Mapping[Kind, set[str]]:
    """The ids a reference of each kind (but ``rule``) may name in this profile."""
    rows = profile.indicators.rows if profile.indicators is not None else {}
    return {
        "permission": {f"{doc_type}.{action}" for doc_type, rules in profile.permissions.items() for action in rules},
        "routing": set(profile.routing),
        "warning": {w.code for w in profile.warnings},
        "deadline": deadline_ids(profile),
        "system": set(profile.systems),
        "indicator": {row_id for row_id, row in rows.items() if not row.absent},
    }
