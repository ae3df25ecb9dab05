"""The recipients' register in the gateway's database, and its entries in each system's shape.

One row per certificate (``certificate_register``), with only what the register needs of
the child: name and birth date (no SNILS, no documents, nothing of the parents).  Rows
carry two flags: ``eais_pending`` (EAIS DO has not yet taken the row's current state,
whose version is ``eais_ts``) and ``navigator_pending`` (the Navigator must take the
gateway's issue data).  The flags are set in the transaction that changes the row and
cleared only after the system accepted that very version, so a crash between the two
re-sends, never loses.

Certificates issued through the gateway enter the register when their D6 is approved
(:func:`record_issue`), in the approval's transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from operator import itemgetter
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.eais.mapping import CertificateObject
from adapters.navigator import CertificateCorrection, CertificateRecord
from gateway.features.registry_sync.reconcile import Entry, Held
from gateway.store.journal import utc_stamp
from gateway.store.tables import certificate_register as reg

# Columns read back into an Entry (beside origin and the bookkeeping).
ENTRY_COLUMNS = (
    reg.c.number, reg.c.municipality, reg.c.status, reg.c.nominal, reg.c.balance, reg.c.valid_from, reg.c.valid_to,
    reg.c.deleted, reg.c.child_last_name, reg.c.child_first_name, reg.c.child_middle_name, reg.c.child_birth_date,
    reg.c.origin, reg.c.eais_ts, reg.c.eais_pending, reg.c.navigator_pending,
)  # fmt: skip


def amount(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def from_navigator(record: CertificateRecord) -> Entry:
    child = record.recipient
    return Entry(
        number=record.number, municipality=record.municipality, status=record.status, nominal=f"{record.nominal:.2f}",
        balance=f"{record.balance:.2f}", valid_from=record.valid_from.isoformat(), valid_to=record.valid_to.isoformat(),
        deleted=record.deleted, last_name=str(child.get("lastName", "")), first_name=str(child.get("firstName", "")),
        middle_name=child.get("middleName"), birth_date=str(child.get("birthDate", "")),
    )  # fmt: skip


def from_certificate(municipality: str, payload: Mapping[str, Any]) -> Entry:
    """A D6 issued through the gateway: active, its whole nominal available."""
    child = payload["child"]
    nominal = amount(payload["nominal"])
    return Entry(
        number=payload["number"], municipality=municipality, status="active", nominal=nominal, balance=nominal,
        valid_from=str(payload["period"]["valid_from"]), valid_to=str(payload["period"]["valid_to"]), deleted=False,
        last_name=child["last_name"], first_name=child["first_name"], middle_name=child.get("middle_name"),
        birth_date=str(child["birth_date"]),
    )  # fmt: skip


def held_of(row: Mapping[str, Any]) -> Held:
    entry = Entry(
        number=row["number"], municipality=row["municipality"], status=row["status"], nominal=row["nominal"],
        balance=row["balance"], valid_from=row["valid_from"], valid_to=row["valid_to"], deleted=bool(row["deleted"]),
        last_name=row["child_last_name"], first_name=row["child_first_name"], middle_name=row["child_middle_name"],
        birth_date=row["child_birth_date"],
    )  # fmt: skip
    return Held(entry, row["origin"])


def values_of(entry: Entry) -> dict[str, Any]:
    return {
        "status": entry.status, "nominal": entry.nominal, "balance": entry.balance, "valid_from": entry.valid_from,
        "valid_to": entry.valid_to, "deleted": entry.deleted, "child_last_name": entry.last_name,
        "child_first_name": entry.first_name, "child_middle_name": entry.middle_name,
        "child_birth_date": entry.birth_date,
    }  # fmt: skip


def next_ts(previous: int | None) -> int:
    """The row's next version (``eais_ts``): now in unix seconds, and always after the previous one.

    It is EAIS DO's ``lastmodifiedTs`` (last writer wins) and the guard that clears a pending
    flag only for the version a system accepted.
    """
    now = int(time.time())
    return now if previous is None or now > previous else previous + 1


def to_eais(entry: Entry, ts: int) -> CertificateObject:
    return CertificateObject(
        number=entry.number, municipality=entry.municipality, nominal=entry.nominal, valid_from=entry.valid_from,
        valid_to=entry.valid_to, status=entry.status, child_birth_year=entry.birth_year, deleted=entry.deleted,
        modified_ts=ts,
    )  # fmt: skip


def to_navigator(entry: Entry) -> CertificateCorrection:
    recipient = {"last_name": entry.last_name, "first_name": entry.first_name, "middle_name": entry.middle_name,
                 "birth_date": entry.birth_date}  # fmt: skip
    return CertificateCorrection(
        number=entry.number, municipality=entry.municipality, deleted=entry.deleted, nominal=entry.nominal,
        valid_from=entry.valid_from, valid_to=entry.valid_to, status=entry.status, balance=entry.balance,
        recipient=recipient,
    )  # fmt: skip


async def rows_by_number(conn: AsyncConnection, municipality: str, numbers: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """The gateway's rows of these numbers (plain SQL: a page asks for thousands at once)."""
    if not numbers:
        return {}
    where, params = _numbers_clause(conn, municipality, numbers)
    sql = f"SELECT {', '.join(c.name for c in ENTRY_COLUMNS)} FROM {reg.name} WHERE {where}"
    result = await conn.exec_driver_sql(sql, params)
    return {row["number"]: cast("Mapping[str, Any]", row) for row in result.mappings()}


def _numbers_clause(
    conn: AsyncConnection, municipality: str, numbers: Sequence[str], skip: int = 0
) -> tuple[str, tuple[Any, ...]]:
    """``municipality = ? AND number IN (…)`` after ``skip`` earlier placeholders; on PostgreSQL one array
    parameter, so that every page reuses one prepared statement."""
    if conn.dialect.name == "postgresql":
        marks = _marks(conn, skip + 2)[skip:]
        return f"municipality = {marks[0]} AND number = ANY({marks[1]}::varchar[])", (municipality, list(numbers))
    marks = _marks(conn, skip + len(numbers) + 1)[skip:]
    return f"municipality = {marks[0]} AND number IN ({', '.join(marks[1:])})", (municipality, *numbers)


def _marks(conn: AsyncConnection, count: int) -> list[str]:
    """Positional placeholders in the driver's own style (``?`` for sqlite3, ``$n`` for asyncpg)."""
    style = conn.dialect.paramstyle
    if style == "qmark":
        return ["?"] * count
    if style == "numeric_dollar":
        return [f"${i}" for i in range(1, count + 1)]
    if style in ("format", "pyformat"):
        return ["%s"] * count
    raise NotImplementedError(f"paramstyle {style}")


# Bulk writes go to the driver as plain executemany: for a million rows SQLAlchemy's per-value
# processing of compiled statements costs more than the database's own work.
async def insert_rows(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    sql = f"INSERT INTO {reg.name} ({', '.join(columns)}) VALUES ({', '.join(_marks(conn, len(columns)))})"
    values = itemgetter(*columns)
    await conn.exec_driver_sql(sql, [values(r) for r in rows])


async def update_rows(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Update rows keyed by ``k_municipality``/``k_number``; every dict must carry the same columns."""
    if not rows:
        return
    columns = [k for k in rows[0] if not k.startswith("k_")]
    marks = _marks(conn, len(columns) + 2)
    sets = ", ".join(f"{c} = {m}" for c, m in zip(columns, marks, strict=False))
    sql = f"UPDATE {reg.name} SET {sets} WHERE municipality = {marks[-2]} AND number = {marks[-1]}"
    values = itemgetter(*columns, "k_municipality", "k_number")
    await conn.exec_driver_sql(sql, [values(r) for r in rows])


async def mark_seen(conn: AsyncConnection, municipality: str, numbers: Iterable[str], run_id: str) -> None:
    keys = list(numbers)
    if keys:
        where, params = _numbers_clause(conn, municipality, keys, skip=1)
        mark = _marks(conn, 1)[0]
        await conn.exec_driver_sql(f"UPDATE {reg.name} SET seen_run = {mark} WHERE {where}", (run_id, *params))


async def clear_pending(
    conn: AsyncConnection, flag: str, municipality: str, versions: Sequence[tuple[str, int]]
) -> None:
    """Clear ``eais_pending`` or ``navigator_pending`` for rows still at the version that was accepted."""
    if not versions:
        return
    statement = (
        reg.update()
        .where(reg.c.municipality == municipality, reg.c.number == sa.bindparam("k_number"),
               reg.c.eais_ts == sa.bindparam("k_ts"))
        .values({flag: False})
    )  # fmt: skip
    await conn.execute(statement, [{"k_number": n, "k_ts": ts} for n, ts in versions])


async def record_issue(conn: AsyncConnection, municipality: str, document_id: str, payload: Mapping[str, Any]) -> None:
    """A D6 approved in the gateway enters the register (or takes over the Navigator's row of that number)."""
    entry = from_certificate(municipality, payload)
    existing = (await rows_by_number(conn, municipality, [entry.number])).get(entry.number)
    now = utc_stamp()
    if existing is None:
        await conn.execute(
            reg.insert().values(
                municipality=municipality, number=entry.number, origin="gateway", document_id=document_id,
                navigator_id=None, navigator_seq=None, **values_of(entry), eais_pending=True, eais_ts=next_ts(None),
                navigator_pending=False, seen_run=None, updated_at=now,
            )
        )  # fmt: skip
        return
    held = held_of(existing)
    merged = entry if held.entry.deleted else replace(entry, status=held.entry.status, balance=held.entry.balance)
    differs = values_of(merged) != values_of(held.entry)
    await conn.execute(
        reg.update().where(reg.c.municipality == municipality, reg.c.number == entry.number)
        .values(origin="gateway", document_id=document_id, **values_of(merged), updated_at=now,
                **({"eais_pending": True, "eais_ts": next_ts(existing["eais_ts"]), "navigator_pending": True} if differs else {}))
    )  # fmt: skip


async def record_revocation(conn: AsyncConnection, municipality: str, document_id: str, number: str) -> None:
    """A D6 rejected after its approval: the certificate is deleted here, then in the Navigator and EAIS DO."""
    existing = (await rows_by_number(conn, municipality, [number])).get(number)
    if existing is None or existing["origin"] != "gateway" or existing["deleted"]:
        return
    await conn.execute(
        reg.update()
        .where(reg.c.municipality == municipality, reg.c.number == number, reg.c.document_id == document_id)
        .values(deleted=True, eais_pending=True, eais_ts=next_ts(existing["eais_ts"]), navigator_pending=True,
                updated_at=utc_stamp())
    )  # fmt: skip
