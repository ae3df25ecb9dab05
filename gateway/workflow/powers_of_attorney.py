"""Machine-readable powers of attorney (МЧД) at the gateway: the powers each action needs, the
МЧД attached to a sign request, and the list of revoked МЧД numbers.

An employee signs a document with a personal qualified certificate and attaches the МЧД
the party issued (``power_of_attorney``, base64 XML) with its head's detached CMS
(``power_of_attorney_signature``).  :class:`PowersOfAttorney` gathers the facts (the МЧД's
signature verified against the gateway's trust material, its number looked up among the
revocations) and lets :func:`signing.power_of_attorney.check_power_of_attorney` decide; the
signing rule (:mod:`gateway.workflow.rules.signatures`) turns the outcome into violations.

Which powers let a representative take an action is data (``GATEWAY_POA__POWERS_FILE``,
default ``gateway/data/powers_of_attorney.yaml``), not code.  Revocations are fed through
``/api/v1/powers-of-attorney/revocations`` (:mod:`gateway.features.powers_of_attorney`).
The МЧД is checked at the real moment of signing, like the certificates.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.context import Context
from gateway.documents.registry import DOCUMENT_TYPES
from gateway.store import journal
from gateway.store.tables import poa_revocations
from gateway.workflow.problems import FieldError, Problem
from gateway.workflow.rules.signatures import (
    POA_POINTER,
    PartyIdentity,
    PoaOutcome,
    SignerFacts,
    acts_for,
)
from signing.cms import CMSError, SignerReport
from signing.power_of_attorney import (
    PoaCheck,
    PoaFormatError,
    RequiredPowers,
    SignatureVerdict,
    check_power_of_attorney,
    parse_power_of_attorney,
)

__all__ = [
    "AttachedPoa",
    "PowersFile",
    "PowersOfAttorney",
    "Revocation",
    "list_revocations",
    "load_powers",
    "read_attached",
    "record_revocation",
    "revoked_at",
    "signature_columns",
]

#: Base64 text of an МЧД or its signature longer than this is refused (the МЧД itself is at most 1 MB).
MAX_ENCODED = 1_400_000


# --------------------------------------------------------------------------- the powers file
class _Restriction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    values: dict[str, str]


class _ActionPowers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    powers: list[str] = Field(min_length=1)
    restrictions: dict[str, list[str]] = Field(default_factory=dict)


class PowersFile(BaseModel):
    """``powers_of_attorney.yaml``: the classifier codes used, and per document type and action the powers."""

    model_config = ConfigDict(extra="forbid")

    powers: dict[str, str]
    restrictions: dict[str, _Restriction] = Field(default_factory=dict)
    actions: dict[str, dict[str, _ActionPowers]]

    @model_validator(mode="after")
    def _consistent(self) -> PowersFile:
        for doc_type, actions in self.actions.items():
            if doc_type not in DOCUMENT_TYPES:
                raise ValueError(f"unknown document type {doc_type!r}")
            for action, spec in actions.items():
                unknown = [c for c in spec.powers if c not in self.powers]
                if unknown:
                    raise ValueError(f"{doc_type}.{action}: codes not listed under powers: {', '.join(unknown)}")
                for code, values in spec.restrictions.items():
                    known = self.restrictions.get(code)
                    if known is None or not set(values) <= set(known.values):
                        raise ValueError(f"{doc_type}.{action}: restriction {code} or its values not listed under restrictions")
        return self

    def required(self, doc_type: str, action: str) -> RequiredPowers:
        """The powers of which one lets a representative take ``action`` on a document of ``doc_type``."""
        spec = self.actions.get(doc_type, {}).get(action)
        if spec is None:
            return RequiredPowers(())
        return RequiredPowers(tuple(spec.powers), {k: frozenset(v) for k, v in spec.restrictions.items()})


@functools.lru_cache(maxsize=8)
def load_powers(path: Path) -> PowersFile:
    """The powers file, read and checked once per process."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return PowersFile.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"файл полномочий МЧД {path} не прочитан: {exc}") from exc


# --------------------------------------------------------------------------- the request
@dataclass(frozen=True)
class AttachedPoa:
    xml: bytes
    signature: bytes


def _decode(body: Mapping[str, Any], name: str) -> bytes:
    value = body.get(name)
    pointer = f"/{name}"
    if value is None:
        detail = ("Приложите открепленную подпись МЧД руководителем доверителя (CMS, base64)"
                  if name == "power_of_attorney_signature" else "Приложите файл МЧД (XML, base64)")  # fmt: skip
        raise Problem(422, "poa_malformed", detail, [FieldError("poa_malformed", pointer, detail)])
    detail = f"Поле {name} — строка base64"
    if not isinstance(value, str) or len(value) > MAX_ENCODED:
        raise Problem(422, "poa_malformed", detail, [FieldError("poa_malformed", pointer, detail)])
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Problem(422, "poa_malformed", detail, [FieldError("poa_malformed", pointer, detail)]) from None


def read_attached(body: Mapping[str, Any], *, external: bool) -> AttachedPoa | None:
    """The МЧД sent with a sign request; it goes only with a detached signature made elsewhere."""
    if body.get("power_of_attorney") is None and body.get("power_of_attorney_signature") is None:
        return None
    if not external:
        detail = "МЧД прикладывается к открепленной подписи сотрудника (поле signature), а не к подписи ключом на сервере"
        raise Problem(422, "poa_malformed", detail, [FieldError("poa_malformed", POA_POINTER, detail)])
    return AttachedPoa(_decode(body, "power_of_attorney"), _decode(body, "power_of_attorney_signature"))


# --------------------------------------------------------------------------- revocations
_REVOKED = sa.select(poa_revocations.c.revoked_at).where(poa_revocations.c.number == sa.bindparam("number"))


def parse_stamp(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def revoked_at(ctx: Context, number: str) -> dt.datetime | None:
    """From when the МЧД ``number`` is revoked, or ``None`` when the gateway has no revocation of it."""
    row = await ctx.db.fetch_first(_REVOKED, {"number": number.lower()})
    return parse_stamp(row["revoked_at"]) if row else None


@dataclass(frozen=True)
class Revocation:
    number: str
    revoked_at: dt.datetime
    reason: str
    municipality: str
    recorded_by: str
    recorded_at: str

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "revoked_at": journal.utc_stamp(self.revoked_at), "reason": self.reason,
                "municipality": self.municipality, "recorded_by": self.recorded_by, "recorded_at": self.recorded_at}  # fmt: skip


def _revocation(row: Mapping[Any, Any]) -> Revocation:
    return Revocation(row["number"], parse_stamp(row["revoked_at"]), row["reason"], row["municipality"],
                      row["recorded_by"], row["recorded_at"])  # fmt: skip


async def record_revocation(conn: AsyncConnection, revocation: Revocation) -> Revocation | None:
    """Insert ``revocation`` and journal it; the one already recorded for the number when there is one."""
    existing = (await conn.execute(sa.select(poa_revocations).where(poa_revocations.c.number == revocation.number))).mappings().first()
    if existing is not None:
        return _revocation(existing)
    values = revocation.as_json()
    await conn.execute(poa_revocations.insert().values(**values))
    await journal.append(
        conn, event="poa_revoked", actor=revocation.recorded_by, municipality=revocation.municipality,
        at=revocation.recorded_at, details={k: values[k] for k in ("number", "revoked_at", "reason")},
    )  # fmt: skip
    return None


_LIST = (
    sa.select(poa_revocations)
    .order_by(poa_revocations.c.recorded_at.desc(), poa_revocations.c.number)
    .limit(sa.bindparam("limit"))
    .offset(sa.bindparam("offset"))
)
_COUNT = sa.select(sa.func.count()).select_from(poa_revocations)


async def list_revocations(ctx: Context, *, limit: int, offset: int) -> tuple[list[Revocation], int]:
    """A page of the revocations, newest recorded first, and how many there are."""
    async with ctx.db.read() as conn:
        rows = (await conn.execute(_LIST, {"limit": limit, "offset": offset})).mappings().all()
        total = int((await conn.execute(_COUNT)).scalar_one())
    return [_revocation(r) for r in rows], total


# --------------------------------------------------------------------------- judging a signature's МЧД
Verify = Callable[[bytes, bytes], Sequence[SignerReport]]


class PowersOfAttorney:
    """Judges the МЧД attached to a signature; ``verify(der, data)`` checks a CMS with the gateway's trust material."""

    def __init__(self, ctx: Context, verify: Verify) -> None:
        self.ctx = ctx
        self.verify = verify

    @property
    def powers(self) -> PowersFile:
        return load_powers(self.ctx.settings.poa.powers_file)

    async def judge(
        self,
        attached: AttachedPoa | None,
        *,
        doc_type: str,
        action: str,
        report: SignerReport,
        facts: SignerFacts,
        party: PartyIdentity | None,
    ) -> PoaOutcome | None:
        """The outcome for the signing rule; ``None`` when no МЧД is sent or none is needed.

        None is needed when the signature itself fails or the certificate names the party:
        an МЧД sent anyway is then neither checked nor recorded.
        """
        cert = report.certificate
        if attached is None or cert is None or not facts.crypto_ok or party is None or party.inn is None:
            return None
        if acts_for(facts, party):
            return None
        try:
            poa = parse_power_of_attorney(attached.xml)
        except PoaFormatError as exc:
            return exc
        try:
            # The head's certificate is checked for revocation too: CRLs and OCSP answers into the cache first.
            await self.ctx.keys.trust_store.prefetch_cms(attached.signature)
            verdict = SignatureVerdict.from_reports(self.verify(attached.signature, attached.xml))
        except CMSError:
            verdict = SignatureVerdict(None, False, False, "подпись МЧД повреждена или не является подписью CMS")
        return check_power_of_attorney(
            poa, signer=cert, organisation_inn=party.inn, organisation_ogrn=party.ogrn,
            at=dt.datetime.now(dt.UTC), required=self.powers.required(doc_type, action), signature=verdict,
            revoked_at=await revoked_at(self.ctx, poa.number), zone=self.ctx.clock.zone,
        )  # fmt: skip


def signature_columns(outcome: PoaOutcome | None, attached: AttachedPoa | None) -> dict[str, Any]:
    """What the signature row records of the МЧД it was accepted with (nothing without one)."""
    if not isinstance(outcome, PoaCheck) or not outcome.ok or outcome.power is None or attached is None:
        return {"poa_number": None, "poa_principal_inn": None, "poa_power": None, "poa_xml": None, "poa_signature": None}
    return {
        "poa_number": outcome.poa.number,
        "poa_principal_inn": outcome.poa.principal.inn,
        "poa_power": outcome.power.code,
        "poa_xml": attached.xml,
        "poa_signature": attached.signature,
    }

