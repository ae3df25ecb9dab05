"""budget.gov.ru registry records ⇄ what the gateway needs to know about a publication.

The registry names (``socialorders``, ``socialorderreports``) and the record fields below
are a stand-in: no public registry of the social order was found.  The
field style (lower-case names, ``filter<field>=``) follows the real registries; replace
this module when the real registry is known.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Publication:
    """A document published on the portal; ``publish_date`` is what the deadline is closed with."""

    registry: str
    record_id: str
    registration_number: str
    document_number: str
    municipality: str
    publish_date: dt.date
    published_at: dt.datetime | None


def publication_filter(registration_number: str) -> dict[str, str]:
    return {"regnum": registration_number}


def publication(registry: str, record: dict[str, Any]) -> Publication | None:
    """A record of the registry as a :class:`Publication`; ``None`` when it is not a publication."""
    try:
        if str(record.get("status", "PUBLISHED")).upper() != "PUBLISHED":
            return None
        published_at = record.get("publishdatetime")
        return Publication(
            registry=registry,
            record_id=str(record["id"]),
            registration_number=str(record["regnum"]),
            document_number=str(record.get("documentnumber", "")),
            municipality=str(record.get("municipality", "")),
            publish_date=dt.date.fromisoformat(str(record["publishdate"])[:10]),
            published_at=dt.datetime.fromisoformat(published_at) if published_at else None,
        )
    except (KeyError, ValueError):
        return None
