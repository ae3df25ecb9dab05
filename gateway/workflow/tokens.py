"""Bearer tokens: each bound to one municipality, organisation and role; stored only as a hash.

A token is ``gw_<id>_<secret>``; the database keeps SHA-256 of the whole string, so a
stolen database yields no usable token.  Nothing is hard-coded: tokens are issued by
``gateway tokens issue``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa

from gateway.context import Context
from gateway.municipalities import Role
from gateway.store.journal import append, utc_stamp
from gateway.store.tables import tokens
from gateway.workflow.problems import Problem
from gateway.workflow.rules.actions import Actor


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(ctx: Context, municipality: str, org: str, role: Role, inn: str | None = None) -> str:
    """Create a token and return it; the caller shows it once, it is never stored in clear."""
    profile = ctx.profiles.get(municipality)
    if profile is None:
        raise Problem(422, "unknown_municipality", f"Муниципалитет «{municipality}» не настроен")
    org_id = org
    if role is not Role.provider:
        match = next((o for o in profile.organisations if org in (o.id, o.name)), None)
        if match is not None:
            org_id = match.id
    token_id = secrets.token_hex(6)
    token = f"gw_{token_id}_{secrets.token_urlsafe(32)}"
    async with ctx.db.write() as conn:
        await conn.execute(
            tokens.insert().values(
                id=token_id, token_hash=_hash(token), municipality=municipality, org=org_id,
                role=role.value, inn=inn, created_at=utc_stamp(),
            )
        )  # fmt: skip
        await append(
            conn, event="token_issued", actor="cli", municipality=municipality,
            details={"token_id": token_id, "org": org_id, "role": role.value},
        )  # fmt: skip
    return token


_BY_HASH = sa.select(tokens).where(tokens.c.token_hash == sa.bindparam("token_hash"))


async def authenticate(ctx: Context, header: str | None) -> Actor:
    """The actor of a bearer token, read on every request (a revocation counts at once)."""
    if not header or not header.startswith("Bearer "):
        raise Problem(401, "unauthorized", "Нужен заголовок Authorization: Bearer <токен>", headers={"WWW-Authenticate": "Bearer"})
    token_hash = _hash(header[len("Bearer ") :].strip())
    row = await ctx.db.fetch_first(_BY_HASH, {"token_hash": token_hash})
    if row is None or row["revoked_at"] is not None or not hmac.compare_digest(row["token_hash"], token_hash):
        raise Problem(401, "unauthorized", "Токен не действителен", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return Actor(municipality=row["municipality"], org=row["org"], role=Role(row["role"]), token_id=row["id"], inn=row["inn"])


async def revoke(ctx: Context, token_id: str) -> bool:
    async with ctx.db.write() as conn:
        result = await conn.execute(
            tokens.update().where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None)).values(revoked_at=utc_stamp())
        )
        if result.rowcount:
            await append(conn, event="token_revoked", actor="cli", details={"token_id": token_id})
        return bool(result.rowcount)
