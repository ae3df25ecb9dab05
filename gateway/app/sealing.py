"""The journal sealer of a gateway process, and the gateway key that signs its checkpoints.

The key is the gateway's own (organisation ``gateway``, role ``operator`` in the key
registry: the one that signs SMEV messages as the information system).  Without it,
checkpoints are stored unsigned and ``gateway journal verify`` says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.context import Context
from gateway.store.journal_seal import JournalSealer, Sign
from gateway.store.journal_verify import VerifyCheckpoint
from gateway.systems.smev import GATEWAY_ORG, GATEWAY_ROLE
from signing.cms import CMSError, sign_detached, verify_detached
from signing.trust_store import TrustStore

log = logging.getLogger("gateway.journal")


def checkpoint_signer(ctx: Context) -> Sign | None:
    try:
        signer = ctx.keys.signer_for("*", GATEWAY_ORG, GATEWAY_ROLE)
    except Exception as exc:  # noqa: BLE001 - an unreadable key must not stop the gateway; said in the log
        log.warning("journal checkpoints unsigned: the gateway key cannot be loaded (%s)", type(exc).__name__)
        return None
    if signer is None:
        log.warning("journal checkpoints unsigned: no key for organisation %r role %r", GATEWAY_ORG, GATEWAY_ROLE)
        return None
    key = signer

    def sign(document: bytes) -> tuple[bytes, str]:
        cert = key.certificate
        return sign_detached(document, key), f"{cert.subject_text} (серийный номер {cert.serial:x})"

    return sign


def checkpoint_verifier(ctx: Context) -> VerifyCheckpoint:
    """Checks a checkpoint's CMS signature: intact, and by a certificate from the trusted roots.

    Chains only (kept by a trust store of the roots): a checkpoint is judged by whose key
    made it, and a revocation list that has aged since must not void old checkpoints.
    """
    trusted = ctx.keys.trusted
    store = TrustStore(trusted) if trusted else None

    def verify(signature: bytes, document: bytes) -> str | None:
        try:
            reports = verify_detached(signature, document, trust=store)
        except CMSError as exc:
            return str(exc)
        if not reports or not all(r.crypto_ok for r in reports):
            return "подпись не соответствует данным контрольной точки"
        if trusted and not all(r.chain is not None and r.chain.ok for r in reports):
            return "сертификат подписи не ведёт к доверенному корневому сертификату"
        return None

    return verify


def build_sealer(ctx: Context) -> JournalSealer:
    s = ctx.settings.journal
    return JournalSealer(
        ctx.db, sign=checkpoint_signer(ctx), interval_s=s.seal_interval_s, checkpoint_every_s=s.checkpoint_every_s,
        batch=s.seal_batch,
    )  # fmt: skip


async def sealer_context(app: web.Application, ctx: Context) -> AsyncIterator[None]:
    """Runs the sealer for the application's lifetime (``cleanup_ctx``)."""
    stop = asyncio.Event()
    task = asyncio.create_task(build_sealer(ctx).run(stop), name="journal-sealer")
    yield
    stop.set()
    await task
