"""The JSON shapes the API returns for documents, and who sees personal data in them.

Children's and parents' data (fields marked ``x-personal-data``) is shown only to roles
the municipality profile lists in ``personal_data_roles``; for everyone else those fields
are ``null`` and ``personal_data_hidden`` names them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.documents.registry import DOCUMENT_TYPES, personal_fields
from gateway.municipalities import Profile
from gateway.workflow.rules.actions import Actor, known_actions, permitted


def may_see_personal_data(actor: Actor, profile: Profile) -> bool:
    return actor.role in profile.personal_data_roles


def masked_payload(doc_type: str, payload: Mapping[str, Any], actor: Actor, profile: Profile) -> tuple[dict[str, Any], list[str]]:
    fields = personal_fields(DOCUMENT_TYPES[doc_type].model)
    if not fields or may_see_personal_data(actor, profile):
        return dict(payload), []
    out = dict(payload)
    for name in fields:
        out[name] = None
    return out, fields


def summary(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "type": row["type"],
        "code": DOCUMENT_TYPES[row["type"]].code,
        "municipality": row["municipality"],
        "number": row["number"],
        "date": row["doc_date"].isoformat(),
        "status": row["status"],
        "paper": bool(row["paper"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def document_resource(
    row: Mapping[str, Any], delivery_rows: Sequence[Mapping[str, Any]], profile: Profile, actor: Actor
) -> dict[str, Any]:
    doc_type = row["type"]
    payload, hidden = masked_payload(doc_type, row["payload"], actor, profile)
    systems = profile.routing.get(doc_type, [])
    available = sorted(a for a in known_actions(profile, doc_type) if permitted(profile, doc_type, a, actor))
    return {
        **summary(row),
        "document_name": profile.document_names[doc_type],
        "approved_on": row["approved_on"].isoformat() if row["approved_on"] else None,
        "steps": dict(row["steps"] or {}),
        "created_by": {"org": row["created_by_org"], "role": row["created_by_role"]},
        "systems": [{"system": s, "name": profile.systems[s].name} for s in systems],
        "deliveries": [
            {"system": d["system"], "name": profile.systems[d["system"]].name, "status": d["status"],
             "updated_at": d["updated_at"]}
            for d in delivery_rows
        ],  # fmt: skip
        "actions": available,
        "payload": payload,
        "personal_data_hidden": hidden,
        "links": {
            "self": f"/api/v1/documents/{row['id']}",
            "journal": f"/api/v1/documents/{row['id']}/journal",
            "xml": f"/api/v1/documents/{row['id']}/xml",
        },
    }
