"""The one status vocabulary: every transition names known statuses, and a status change outside
the workflow actions that the table does not list is refused before it touches the database."""

from __future__ import annotations

import pytest

from gateway.context import Context
from gateway.documents.status import (
    ACTION_EVENTS,
    ACTION_TRANSITIONS,
    LIVE_STATUSES,
    SYSTEM_TRANSITIONS,
    DocumentStatus,
)
from gateway.workflow.state import transition


def test_action_table_covers_each_action_once_with_its_event() -> None:
    assert set(ACTION_TRANSITIONS) == set(ACTION_EVENTS) == {"approve", "reject", "sign", "send"}
    for sources, target in ACTION_TRANSITIONS.values():
        assert target not in {DocumentStatus.submitted} and sources <= set(DocumentStatus)
    assert DocumentStatus.rejected not in LIVE_STATUSES and DocumentStatus.submitted not in LIVE_STATUSES


def test_system_transitions_only_move_sent_documents_on_or_back_to_approved() -> None:
    assert DocumentStatus.submitted not in SYSTEM_TRANSITIONS
    assert SYSTEM_TRANSITIONS[DocumentStatus.returned] == {DocumentStatus.approved}


async def test_an_unlisted_status_change_is_refused(sqlite_ctx: Context) -> None:
    async with sqlite_ctx.db.write() as conn:
        with pytest.raises(ValueError, match="no transition"):
            await transition(
                conn, "00000000-0000-4000-8000-000000000000", allowed_from=("rejected",), to="published",
                event="published", actor="test", municipality="luga", details={},
            )  # fmt: skip
