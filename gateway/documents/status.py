"""The statuses of a document, the one vocabulary every module uses, and how they change.

Workflow actions move a document by :data:`ACTION_TRANSITIONS` (``approve``, ``reject``,
``sign``, ``send``; profile steps leave the status alone).  After ``send`` the systems move
it by :data:`SYSTEM_TRANSITIONS`: the consumer marks it ``delivered`` once every system took
it; Electronic Budget's answer makes it ``returned`` (a corrected version goes back to
``approved``) or, once budget.gov.ru shows it, ``published``; the provider's answer in the
Navigator makes an agreement ``concluded``, ``refused`` or ``expired``.  Statuses are stored
as their string values, so a :class:`DocumentStatus` compares equal to the stored text.
"""

from __future__ import annotations

from enum import StrEnum


class DocumentStatus(StrEnum):
    submitted = "submitted"
    approved = "approved"
    signed = "signed"
    sent = "sent"
    delivered = "delivered"
    returned = "returned"
    published = "published"
    concluded = "concluded"
    refused = "refused"
    expired = "expired"
    rejected = "rejected"


S = DocumentStatus

#: action → (statuses it may be taken from, status it leads to)
ACTION_TRANSITIONS: dict[str, tuple[frozenset[DocumentStatus], DocumentStatus]] = {
    "approve": (frozenset({S.submitted}), S.approved),
    "reject": (frozenset({S.submitted, S.approved}), S.rejected),
    "sign": (frozenset({S.approved, S.signed}), S.signed),
    "send": (frozenset({S.approved, S.signed}), S.sent),
}

#: the journal event of each action
ACTION_EVENTS: dict[str, str] = {"approve": "approved", "reject": "rejected", "sign": "signed", "send": "sent"}

#: status → statuses the systems' answers may move it to (outside the workflow actions)
SYSTEM_TRANSITIONS: dict[DocumentStatus, frozenset[DocumentStatus]] = {
    S.sent: frozenset({S.delivered, S.returned, S.published, S.concluded, S.refused, S.expired}),
    S.delivered: frozenset({S.returned, S.published, S.concluded, S.refused, S.expired}),
    S.returned: frozenset({S.approved}),
    S.approved: frozenset({S.concluded}),  # a paper agreement, registered as concluded on paper
}

#: statuses of a document that stands (approved and not withdrawn): links may point at it;
#: ``returned`` is still the approved order (Electronic Budget asked for a correction),
#: ``concluded`` an agreement countersigned by the provider
LIVE_STATUSES: frozenset[DocumentStatus] = frozenset(
    {S.approved, S.signed, S.sent, S.delivered, S.returned, S.published, S.concluded}
)
