"""Refused attempts of authenticated callers, journaled with the actor.

A 403 is evidence (a provider acting in another's name, a body overstepping the decree),
so it is kept in the journal beside what was allowed.  The actor is the one the request
authenticated as (:func:`gateway.workflow.tokens.authenticate` records it per request).
The entry holds the code and where, never the request body: it may carry personal data.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from gateway.context import Context
from gateway.store.journal import append
from gateway.workflow.problems import Problem
from gateway.workflow.rules.actions import Actor
from queues.db import is_transient_db_error

log = logging.getLogger("gateway.refusals")

#: Who the request being handled authenticated as, and where (aiohttp runs each request in its
#: own task, and a bulk request's items in tasks that inherit it).
_IDENTITY: ContextVar[tuple[Context, Actor] | None] = ContextVar("request_identity", default=None)


def authenticated(ctx: Context, actor: Actor) -> None:
    """Record the request's actor, for a refusal later in the same request."""
    _IDENTITY.set((ctx, actor))


async def journal_refusal(problem: Problem, where: str, document_id: str | None = None) -> None:
    """Journal a 403 answered to an authenticated caller; anything else is not a refusal of an identity."""
    identity = _IDENTITY.get()
    if problem.status != 403 or identity is None:
        return
    ctx, actor = identity
    log.info("access refused code=%s actor=%s at %s", problem.code, actor.label, where)
    try:
        async with ctx.db.write() as conn:
            await append(
                conn, event="access_refused", actor=actor.label, municipality=actor.municipality,
                document_id=document_id, details={"code": problem.code, "where": where, "token_id": actor.token_id},
            )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the refusal is answered even if its record cannot be written now
        if not is_transient_db_error(exc):
            raise
        log.warning("access refusal not journaled: %s", type(exc).__name__)
