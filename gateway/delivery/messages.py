"""The transport message of one document for one system, and its way back to an adapter's ``Outgoing``.

The body is JSON holding the document's signed canonical XML (base64, byte for byte), its
JSON payload for REST systems, its signatures and the metadata the adapter needs (exact
system and document names from the profile, the submitting organisation, ``created_at``:
the time of the ``send``).  It is written to the outbox once, at ``send``; retries,
redeliveries after a crash and operator replays re-send these same bytes, so an adapter
takes every id and time it sends from here (``created_at``), never from the clock: a
redelivered message then produces the same request, byte for byte, which the external
system recognises as a duplicate.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.base import Outgoing
from gateway.delivery.trace_context import with_trace_headers
from gateway.municipalities import Profile
from queues import Message, message_id_for

ENVELOPE_VERSION = 1


def build_body(
    *,
    row: Mapping[str, Any],
    system: str,
    xml: bytes,
    profile: Profile,
    signatures: Sequence[bytes],
    submitter: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
    created_at: str | None = None,
) -> bytes:
    """``extra``: further metadata, e.g. ``correction_of`` (the receipt id of the version this one corrects).

    ``created_at``: the ``send``'s UTC stamp (``2026-11-23T09:00:00.000000Z``), the time the
    adapters put into the request (EAIS DO's ``lastmodifiedTs``, a SMEV MessageID).
    """
    metadata = {
        "system_name": profile.systems[system].name,
        "document_name": profile.document_names[row["type"]],
        "document_number": row["number"],
        **{f"submitter_{k}": v for k, v in submitter.items() if v},
        **(extra or {}),
    }
    if created_at:
        metadata["created_at"] = created_at
    if signatures:
        metadata["document_signature"] = base64.b64encode(signatures[0]).decode()
    envelope = {
        "v": ENVELOPE_VERSION,
        "document_id": row["id"],
        "doc_type": row["type"],
        "municipality": row["municipality"],
        "system": system,
        "xml": base64.b64encode(xml).decode(),
        "payload": row["payload"],
        "signatures": [base64.b64encode(s).decode() for s in signatures],
        "metadata": metadata,
    }
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True).encode()


def delivery_message_id(document_id: str, system: str, revision: int = 0) -> str:
    """Revision 0 is the first sending; a corrected version sent again is a new message (revision n)."""
    return message_id_for(document_id, system, purpose="deliver", revision=revision or "")


def outbox_message(row: Mapping[str, Any], system: str, body: bytes, revision: int = 0) -> Message:
    return Message(
        message_id=delivery_message_id(row["id"], system, revision),
        routing_key=f"{system}.{row['type']}",
        body=body,
        headers=with_trace_headers({"document": row["id"], "municipality": row["municipality"], "type": row["type"]}),
        ordering_key=row["id"],
    )


def to_outgoing(message: Message) -> Outgoing:
    envelope = json.loads(message.body)
    return Outgoing(
        message_id=message.message_id,
        document_id=envelope["document_id"],
        doc_type=envelope["doc_type"],
        municipality=envelope["municipality"],
        system=envelope["system"],
        xml=base64.b64decode(envelope["xml"]),
        payload=envelope["payload"],
        metadata=envelope["metadata"],
    )
