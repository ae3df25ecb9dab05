"""Service commands of the ``gateway`` CLI: serve, tokens, journal, calendar, schemas, db.

Every command works on the same data as a running server (``GATEWAY_*`` settings) and
applies migrations first, so ``gateway tokens issue`` works on a fresh data directory.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.context import Context
from gateway.core.logs import configure
from gateway.core.settings import Settings
from gateway.municipalities import Role
from gateway.store.journal import utc_stamp


def _run(coro_factory: Callable[[Context], Awaitable[int]]) -> int:
    settings = Settings()
    configure(max(settings.log_level.upper(), "WARNING", key=logging.getLevelName), settings.log_format)

    async def main() -> int:
        ctx = await Context.open(settings)
        try:
            return await coro_factory(ctx)
        finally:
            await ctx.close()

    return asyncio.run(main())


def _serve(args: argparse.Namespace) -> int:
    from gateway.app.server import serve

    settings = Settings()
    return serve(settings, host=args.host or settings.host, port=args.port or settings.port, demo=args.demo)


def _worker(args: argparse.Namespace) -> int:
    from gateway.app.server import worker
    from gateway.systems import DELIVERY_SYSTEMS as SYSTEMS

    systems = tuple(args.system) if args.system else SYSTEMS
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        print(f"Неизвестные системы: {', '.join(sorted(unknown))}; допустимы: {', '.join(SYSTEMS)}", file=sys.stderr)
        return 2
    return worker(Settings(), systems, metrics_port=args.metrics_port, metrics_host=args.metrics_host)


def _expiry(value: str | None, now: dt.datetime, zone: str) -> dt.datetime | None:
    """``--expires``: a date (the token works through that day in the gateway's zone) or a number of days."""
    from gateway.workflow.params import strict_int
    from gateway.workflow.problems import Problem

    if value is None:
        return None
    days = strict_int(value)
    if days is not None:
        return now + dt.timedelta(days=days)
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise Problem(422, "expiry_invalid", "--expires: ожидается дата ГГГГ-ММ-ДД или число дней") from None
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=ZoneInfo(zone))


def _tokens_issue(args: argparse.Namespace) -> int:
    from gateway.workflow import tokens

    async def go(ctx: Context) -> int:
        expires = _expiry(args.expires, ctx.clock.now(), ctx.settings.timezone)
        issued = await tokens.issue_token(
            ctx, args.municipality, args.org, Role(args.role), inn=args.inn, ogrn=args.ogrn, expires_at=expires
        )
        if args.json:
            print(json.dumps({"token": issued.token, "id": issued.id, "municipality": args.municipality,
                              "org": issued.holder.org, "role": args.role, "inn": issued.holder.inn,
                              "expires_at": issued.expires_at}, ensure_ascii=False))  # fmt: skip
            return 0
        holder = f"ИНН {issued.holder.inn}" if issued.holder.inn else f"организация «{issued.holder.org}»"
        # The token alone on stdout (TOKEN=$(gateway tokens issue ...)); words for people on stderr.
        print(f"Токен выдан: муниципалитет {args.municipality}, {holder}, роль {args.role}, "
              f"действует до {issued.expires_at}.", file=sys.stderr)  # fmt: skip
        print("Сохраните его: повторно он не показывается.", file=sys.stderr)
        print(issued.token)
        return 0

    return _run(go)


def _tokens_list(args: argparse.Namespace) -> int:
    from gateway.workflow import tokens

    async def go(ctx: Context) -> int:
        rows = await tokens.list_tokens(ctx, args.municipality, include_revoked=args.all)
        now = utc_stamp(ctx.clock.now())
        if args.json:
            print(json.dumps([{"id": t.id, "municipality": t.municipality, "org": t.org, "role": t.role, "inn": t.inn,
                               "created_at": t.created_at, "expires_at": t.expires_at, "last_used_at": t.last_used_at,
                               "revoked_at": t.revoked_at, "state": _token_state(t.revoked_at, t.expires_at, now)}
                              for t in rows], ensure_ascii=False))  # fmt: skip
            return 0
        header = ("id", "муниципалитет", "организация", "роль", "ИНН", "выдан", "действует до", "использован", "состояние")
        table = [header]
        for t in rows:
            state = _STATE_WORDS[_token_state(t.revoked_at, t.expires_at, now)]
            table.append((t.id, t.municipality, t.org, t.role, t.inn or "—", t.created_at[:19], t.expires_at[:19],
                          (t.last_used_at or "—")[:19], state))  # fmt: skip
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        print(f"Всего: {len(rows)}")
        return 0

    return _run(go)


_STATE_WORDS = {"revoked": "отозван", "expired": "истёк", "active": "действует"}


def _token_state(revoked_at: str | None, expires_at: str, now: str) -> str:
    return "revoked" if revoked_at else ("expired" if expires_at <= now else "active")


def _tokens_revoke(args: argparse.Namespace) -> int:
    from gateway.workflow import tokens

    async def go(ctx: Context) -> int:
        if await tokens.revoke(ctx, args.token_id):
            print(f"Токен {args.token_id} отозван.")
            return 0
        print(f"Токен {args.token_id} не найден или уже отозван.", file=sys.stderr)
        return 1

    return _run(go)


def _journal_verify(args: argparse.Namespace) -> int:
    from gateway.app.sealing import checkpoint_verifier
    from gateway.store.journal_verify import verify_chain

    async def go(ctx: Context) -> int:
        async with ctx.db.read() as conn:
            report = await verify_chain(conn, checkpoint_verifier(ctx))
        mark = report.last_checkpoint
        if args.json:
            print(json.dumps({
                "ok": report.ok, "code": "journal_ok" if report.ok else report.code, "checked": report.checked,
                "unsealed": report.unsealed, "unsigned_checkpoints": report.unsigned_checkpoints,
                "bad_position": report.bad_position, "bad_seq": report.bad_seq, "reason": report.reason,
                "last_checkpoint": None if mark is None else
                {"position": mark.position, "at": mark.at, "signed": mark.signed, "signer": mark.signer},
            }, ensure_ascii=False))  # fmt: skip
            return 0 if report.ok else 1
        last = (
            f"последняя контрольная точка — запись {mark.position} от {mark.at}"
            + (f", подписана: {mark.signer}" if mark.signed else ", НЕ подписана")
            if mark is not None
            else "контрольных точек ещё нет"
        )
        if report.ok:
            print(
                f"Цепочка журнала цела: запечатано записей — {report.checked}, ожидают запечатывания — "
                f"{report.unsealed}; {last}. (journal_ok)"
            )
            if report.unsigned_checkpoints:
                print(f"Внимание: контрольных точек без подписи — {report.unsigned_checkpoints}: ключ шлюза не настроен. "
                      "(journal_checkpoints_unsigned)", file=sys.stderr)  # fmt: skip
            return 0
        where = f"позиция {report.bad_position}" + (f", запись seq {report.bad_seq}" if report.bad_seq else "")
        print(
            f"Цепочка журнала нарушена: {where}: {report.reason}. Проверено целых записей до неё — {report.checked}; "
            f"ожидают запечатывания — {report.unsealed}; {last}. (journal_broken: {report.code})",
            file=sys.stderr,
        )
        return 1

    return _run(go)


def _journal_seal(args: argparse.Namespace) -> int:
    from gateway.app.sealing import checkpoint_signer
    from gateway.store.journal_seal import checkpoint, seal_all

    async def go(ctx: Context) -> int:
        count = await seal_all(ctx.db, limit=ctx.settings.journal.seal_batch)
        position = await checkpoint(ctx.db, checkpoint_signer(ctx))
        made = f"контрольная точка на записи {position}" if position else "новой контрольной точки не нужно"
        print(f"Запечатано записей — {count}; {made}. (journal_sealed)")
        return 0

    return _run(go)


def _calendar_export(args: argparse.Namespace) -> int:
    from gateway.core.working_days import export_calendar

    text = export_calendar(args.first_year, args.last_year)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"Календарь {args.first_year}–{args.last_year} записан в {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _schemas_export(args: argparse.Namespace) -> int:
    from gateway.documents.xsd import export_all

    for path in export_all():
        print(f"XSD записана: {path}")
    return 0


def _demo_pki(args: argparse.Namespace) -> int:
    from gateway.app.demo_pki import ensure_demo_pki

    settings = Settings()
    created = ensure_demo_pki(settings)
    if created is None:
        print(f"УЦ или реестр ключей уже есть ({settings.effective_pki_dir}, {settings.effective_keys_file}); ничего не изменено.")
    else:
        print(f"Создан ТЕСТОВЫЙ УЦ и реестр ключей для демонстрации: {created} (не для промышленной работы)")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    async def go(ctx: Context) -> int:
        print("Схема базы данных обновлена до последней миграции.")
        return 0

    return _run(go)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="запустить шлюз (API, очередь, эмуляторы)")
    p.add_argument("--host", default=None, help="адрес, на котором слушать (по умолчанию GATEWAY_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="порт (по умолчанию GATEWAY_PORT, 8080)")
    p.add_argument("--demo", action="store_true",
                   help="после запуска выполнить три задачи для всех муниципалитетов на эмуляторах и напечатать отчёт")
    p.set_defaults(func=_serve)

    p = sub.add_parser("worker", help="обработчик очереди (с RabbitMQ: отдельные процессы доставки)")
    p.add_argument("--system", action="append", help="только эти системы (можно несколько раз)")
    p.add_argument("--metrics-port", type=int, default=None, help="отдавать метрики Prometheus (/metrics) на этом порту")
    p.add_argument("--metrics-host", default=None, help="адрес для метрик (по умолчанию GATEWAY_HOST)")
    p.set_defaults(func=_worker)

    tokens = sub.add_parser("tokens", help="токены доступа").add_subparsers(dest="tokens_command", required=True)
    p = tokens.add_parser("issue", help="выдать токен (печатает его последней строкой)")
    p.add_argument("--municipality", required=True, help="муниципалитет (id профиля)")
    p.add_argument("--org", required=True, help="id или наименование организации из профиля муниципалитета")
    p.add_argument("--role", required=True, choices=[r.value for r in Role], help="роль владельца токена")
    p.add_argument("--inn", default=None, help="ИНН исполнителя услуг (обязателен для роли provider)")
    p.add_argument("--ogrn", default=None, help="ОГРН (ОГРНИП) исполнителя услуг, если известен")
    p.add_argument("--expires", default=None,
                   help="срок действия: дата ГГГГ-ММ-ДД (включительно) или число дней; по умолчанию GATEWAY_TOKENS__LIFETIME_DAYS (365)")
    p.add_argument("--json", action="store_true", help="вывести токен и его данные одним объектом JSON")
    p.set_defaults(func=_tokens_issue)
    p = tokens.add_parser("list", help="токены: id, организация, роль, выдан, действует до, последнее использование")
    p.add_argument("--municipality", default=None, help="только токены этого муниципалитета (по умолчанию все)")
    p.add_argument("--all", action="store_true", help="включая отозванные")
    p.add_argument("--json", action="store_true", help="список объектов JSON вместо таблицы")
    p.set_defaults(func=_tokens_list)
    p = tokens.add_parser("revoke", help="отозвать токен по его id")
    p.add_argument("token_id", help="id токена (из gateway tokens list)")
    p.set_defaults(func=_tokens_revoke)

    journal = sub.add_parser("journal", help="журнал").add_subparsers(dest="journal_command", required=True)
    p = journal.add_parser("verify", help="проверить цепочку хешей журнала")
    p.add_argument("--json", action="store_true", help="итог проверки одним объектом JSON")
    p.set_defaults(func=_journal_verify)
    journal.add_parser("seal", help="запечатать ожидающие записи и подписать голову цепочки").set_defaults(
        func=_journal_seal
    )

    calendar = sub.add_parser("calendar", help="производственный календарь").add_subparsers(dest="cal", required=True)
    p = calendar.add_parser("export", help="выгрузить календарь из пакета holidays")
    p.add_argument("first_year", type=int, help="первый год")
    p.add_argument("last_year", type=int, help="последний год")
    p.add_argument("--out", default=None, help="файл YAML (по умолчанию — в стандартный вывод)")
    p.set_defaults(func=_calendar_export)

    schemas = sub.add_parser("schemas", help="схемы документов").add_subparsers(dest="sc", required=True)
    schemas.add_parser("export-xsd", help="перегенерировать XSD из моделей").set_defaults(func=_schemas_export)

    sub.add_parser("demo-pki", help="создать тестовый УЦ и реестр ключей (демонстрация, docker compose)").set_defaults(
        func=_demo_pki
    )

    db = sub.add_parser("db", help="база данных").add_subparsers(dest="dbc", required=True)
    db.add_parser("upgrade", help="применить миграции").set_defaults(func=_db_upgrade)
