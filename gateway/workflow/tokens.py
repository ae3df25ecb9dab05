"""Bearer tokens: each bound to one municipality, organisation and role; stored only as a hash.

A token is ``gw_<id>_<secret>``; the database keeps SHA-256 of the whole string, so a
stolen database yields no usable token.  Nothing is hard-coded: tokens are issued by
``gateway tokens issue``, and only for what the municipality's profile holds: a body's
organisation in a role it has, or a provider identified by a valid INN (and OGRN).  Every
request re-checks the token against the profile, so a profile change takes effect at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gateway.context import Context
from gateway.documents.identifiers import inn_is_valid, ogrn_is_valid
from gateway.municipalities import Role
from gateway.municipalities.profile import Profile
from gateway.store.journal import append, utc_stamp
from gateway.store.tables import tokens
from gateway.workflow.problems import FieldError, Problem
from gateway.workflow.refusals import authenticated
from gateway.workflow.rules.actions import Actor
from queues.db import is_transient_db_error

log = logging.getLogger("gateway.tokens")

#: RFC 6750 b64token, which is what ``gw_<hex>_<urlsafe base64>`` is made of.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
_PROVIDER_NAME_MAX = 255


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _invalid(field: str, code: str, detail: str) -> Problem:
    return Problem(422, code, detail, [FieldError(code, field, detail)])


@dataclass(frozen=True)
class Holder:
    """Whom a token is for, once checked against the profile."""

    org: str
    role: Role
    inn: str | None
    ogrn: str | None


def check_holder(profile: Profile, org: str, role: Role, inn: str | None = None, ogrn: str | None = None) -> Holder:
    """The token holder ``profile`` admits, or a 422 naming what it lacks (pure; no I/O).

    A body (any role but ``provider``) must be an organisation of the profile, named by id
    or by its exact name, that holds ``role``.  A provider is identified by its INN (and
    OGRN where given), both checksum-valid: providers come and go with the registry, so the
    profile does not list them, and their free-form name is only a label.
    """
    if role is Role.provider:
        name = org.strip()
        if not name or len(name) > _PROVIDER_NAME_MAX:
            raise _invalid("/org", "provider_name_invalid", "Укажите наименование исполнителя услуг (до 255 символов)")
        if not inn:
            raise _invalid("/inn", "provider_inn_required", "Токен исполнителя услуг выдаётся только с его ИНН")
        if not inn_is_valid(inn):
            raise _invalid("/inn", "inn_invalid", "ИНН не прошёл проверку контрольных цифр")
        if ogrn is not None and not ogrn_is_valid(ogrn):
            raise _invalid("/ogrn", "ogrn_invalid", "ОГРН (ОГРНИП) не прошёл проверку контрольных цифр")
        if ogrn is not None and (len(inn) == 10) != (len(ogrn) == 13):
            raise _invalid(
                "/ogrn", "ogrn_inn_mismatch",
                "ИНН и ОГРН относятся к разным видам лиц: у организации ИНН из 10 цифр и ОГРН из 13, "
                "у индивидуального предпринимателя — 12 и 15",
            )  # fmt: skip
        return Holder(org=name, role=role, inn=inn, ogrn=ogrn)
    if inn is not None or ogrn is not None:
        raise _invalid("/inn", "inn_not_for_role", "ИНН и ОГРН указываются только в токене исполнителя услуг")
    match = next((o for o in profile.organisations if org in (o.id, o.name)), None)
    if match is None:
        known = ", ".join(o.id for o in profile.organisations)
        raise _invalid(
            "/org", "organisation_unknown",
            f"В профиле муниципалитета «{profile.id}» нет такой организации; есть: {known}",
        )  # fmt: skip
    if role not in match.roles:
        held = ", ".join(r.value for r in match.roles)
        raise _invalid(
            "/role", "role_not_held", f"Организация «{match.id}» не выполняет роль {role.value}; её роли: {held}"
        )
    return Holder(org=match.id, role=role, inn=None, ogrn=None)


def _holder_still_valid(profile: Profile | None, row: Mapping[str, Any]) -> bool:
    if profile is None:
        return False
    try:
        check_holder(profile, row["org"], Role(row["role"]), row["inn"], row["ogrn"])
    except (Problem, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Issued:
    """A token just issued: shown once, with whom and until when it names."""

    token: str
    id: str
    holder: Holder
    expires_at: str


async def issue_token(
    ctx: Context,
    municipality: str,
    org: str,
    role: Role,
    inn: str | None = None,
    ogrn: str | None = None,
    expires_at: dt.datetime | None = None,
) -> Issued:
    """Create a token; the caller shows it once, it is never stored in clear.

    Refuses (422) an organisation or role the profile lacks and an expiry not in the future;
    without ``expires_at`` the token lives ``settings.tokens.lifetime_days``.
    """
    profile = ctx.profiles.get(municipality)
    if profile is None:
        raise _invalid("/municipality", "unknown_municipality", f"Муниципалитет «{municipality}» не настроен")
    holder = check_holder(profile, org, role, inn, ogrn)
    now = ctx.clock.now()
    if expires_at is None:
        expires_at = now + dt.timedelta(days=ctx.settings.tokens.lifetime_days)
    if expires_at <= now:
        raise _invalid("/expires", "expiry_not_in_future", "Срок действия токена должен окончиться в будущем")
    token_id = secrets.token_hex(6)
    token = f"gw_{token_id}_{secrets.token_urlsafe(32)}"
    expires = utc_stamp(expires_at)
    async with ctx.db.write() as conn:
        await conn.execute(
            tokens.insert().values(
                id=token_id, token_hash=_hash(token), municipality=municipality, org=holder.org,
                role=role.value, inn=holder.inn, ogrn=holder.ogrn, created_at=utc_stamp(now), expires_at=expires,
            )
        )  # fmt: skip
        await append(
            conn, event="token_issued", actor="cli", municipality=municipality, at=utc_stamp(now),
            details={"token_id": token_id, "org": holder.org, "role": role.value, "inn": holder.inn,
                     "expires_at": expires},
        )  # fmt: skip
    return Issued(token=token, id=token_id, holder=holder, expires_at=expires)


async def issue(
    ctx: Context,
    municipality: str,
    org: str,
    role: Role,
    inn: str | None = None,
    ogrn: str | None = None,
    expires_at: dt.datetime | None = None,
) -> str:
    """:func:`issue_token`, only the token."""
    return (await issue_token(ctx, municipality, org, role, inn, ogrn, expires_at)).token


_BY_HASH = sa.select(tokens).where(tokens.c.token_hash == sa.bindparam("token_hash"))
_TOUCH = tokens.update().where(tokens.c.id == sa.bindparam("b_id")).values(last_used_at=sa.bindparam("last_used_at"))

_WWW_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header (the scheme is case-insensitive, RFC 9110 §11.1)."""
    if header is None or not header.strip():
        raise Problem(401, "unauthorized", "Нужен заголовок Authorization: Bearer <токен>", headers={"WWW-Authenticate": "Bearer"})
    try:
        header.encode("ascii")
    except UnicodeEncodeError:
        # aiohttp hands undecodable bytes over as surrogates; a token is ASCII.
        raise Problem(
            400, "header_invalid", "Заголовок Authorization содержит недопустимые символы",
            [FieldError("header_invalid", "/headers/Authorization", "Допустимы только символы ASCII")],
        ) from None  # fmt: skip
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        raise Problem(401, "unauthorized", "Нужен заголовок Authorization: Bearer <токен>", headers={"WWW-Authenticate": "Bearer"})
    if not _TOKEN_RE.match(credentials):
        raise Problem(401, "unauthorized", "Токен не действителен", headers=_WWW_INVALID)
    return credentials


async def authenticate(ctx: Context, header: str | None) -> Actor:
    """The actor of a bearer token, read on every request (a revocation or expiry counts at once)."""
    token_hash = _hash(bearer_token(header))
    row = await ctx.db.fetch_first(_BY_HASH, {"token_hash": token_hash})
    if row is None or row["revoked_at"] is not None or not hmac.compare_digest(row["token_hash"], token_hash):
        raise Problem(401, "unauthorized", "Токен не действителен", headers=_WWW_INVALID)
    now = ctx.clock.now()
    stamp = utc_stamp(now)
    if row["expires_at"] <= stamp:
        raise Problem(401, "token_expired", "Срок действия токена истёк; выпустите новый", headers=_WWW_INVALID)
    if not _holder_still_valid(ctx.profiles.get(row["municipality"]), row):
        raise Problem(
            401, "token_holder_unknown",
            "Организация или роль токена больше не предусмотрены профилем муниципалитета; выпустите новый токен",
            headers=_WWW_INVALID,
        )  # fmt: skip
    await _touch(ctx, row, now)
    actor = Actor(
        municipality=row["municipality"], org=row["org"], role=Role(row["role"]), token_id=row["id"],
        inn=row["inn"], ogrn=row["ogrn"],
    )  # fmt: skip
    authenticated(ctx, actor)
    return actor


async def _touch(ctx: Context, row: Mapping[str, Any], now: dt.datetime) -> None:
    """Write the token's last use, at most once per ``last_used_resolution_s``; never fails the request."""
    last = row["last_used_at"]
    resolution = ctx.settings.tokens.last_used_resolution_s
    if last is not None and last > utc_stamp(now - dt.timedelta(seconds=resolution)):
        return
    try:
        async with ctx.db.write() as conn:
            await conn.execute(_TOUCH, {"b_id": row["id"], "last_used_at": utc_stamp(now)})
    except Exception as exc:  # noqa: BLE001 - bookkeeping must not refuse a valid request
        if not is_transient_db_error(exc):
            raise
        log.warning("token last use not recorded: %s", type(exc).__name__)


@dataclass(frozen=True)
class TokenInfo:
    id: str
    municipality: str
    org: str
    role: str
    inn: str | None
    ogrn: str | None
    created_at: str
    expires_at: str
    last_used_at: str | None
    revoked_at: str | None


async def list_tokens(ctx: Context, municipality: str | None = None, include_revoked: bool = False) -> list[TokenInfo]:
    """Tokens by issue time, never their hashes."""
    query = sa.select(tokens).order_by(tokens.c.created_at, tokens.c.id)
    if municipality is not None:
        query = query.where(tokens.c.municipality == municipality)
    if not include_revoked:
        query = query.where(tokens.c.revoked_at.is_(None))
    async with ctx.db.read() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        TokenInfo(
            id=r["id"], municipality=r["municipality"], org=r["org"], role=r["role"], inn=r["inn"], ogrn=r["ogrn"],
            created_at=r["created_at"], expires_at=r["expires_at"], last_used_at=r["last_used_at"],
            revoked_at=r["revoked_at"],
        )  # fmt: skip
        for r in rows
    ]


async def revoke(ctx: Context, token_id: str) -> bool:
    async with ctx.db.write() as conn:
        result = await conn.execute(
            tokens.update().where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None)).values(revoked_at=utc_stamp())
        )
        if result.rowcount:
            await append(conn, event="token_revoked", actor="cli", details={"token_id": token_id})
        return bool(result.rowcount)
