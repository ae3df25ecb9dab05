"""Message ids derived from what a delivery is, not from when it was attempted.

The same document sent to the same system always gets the same id, so the consumer's inbox
recognises a redelivery or a duplicate publish, and the external system can use the id as
its own idempotency key (for SMEV, the ``MessageID``).
"""

from __future__ import annotations

import uuid

#: Namespace of the gateway's message ids (fixed forever: changing it changes every id).
NAMESPACE = uuid.UUID("6f1c1b3e-4f0a-5c1e-9a7d-2b8e0c5d4a91")

_SEP = "\x1f"


def message_id_for(document_id: str, system: str, purpose: str = "deliver", revision: str | int = "") -> str:
    """A UUIDv5 (as text) over document, target system, purpose and document revision.

    Attempt counters, timestamps and payload bytes are deliberately left out: a retry or a
    re-render must map to the same id.  ``revision`` distinguishes a corrected document
    that has to be sent again as a new message.
    """
    for part in (document_id, system, purpose, str(revision)):
        if _SEP in part:
            raise ValueError("identifier parts must not contain the unit separator")
    if not document_id or not system:
        raise ValueError("document_id and system are required")
    name = _SEP.join((document_id, system, purpose, str(revision)))
    return str(uuid.uuid5(NAMESPACE, name))
