"""``gateway trust import-tsl|show``: import the Ministry's list of accredited CAs into the pki dir.

The list is kept as ``<pki_dir>/tsl/tsl.xml`` with a small ``summary.json`` beside it,
each written atomically (temporary file, fsync, rename), so a reader sees the old list
or the new one, never half of one.  With a signer certificate configured (option
``--signer-cert`` or the setting ``GATEWAY_TRUST__TSL_SIGNER_CERT``) an unsigned or
badly signed list is refused; a list older than the imported one is refused unless
``--force``.  Registered by ``gateway.app.cli`` through :func:`add_commands`; the
settings reach this package as two callables, so it imports nothing of the gateway.
Exit status: 0 success, 1 refused (signature, older version, nothing imported),
2 unreadable input or a file that is not a list.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from signing.atomic_file import write_atomic
from signing.certificates import Certificate, load_certificates
from signing.trust_list import MOSCOW, TrustedList, TrustListError, parse_trusted_list, stored_path

__all__ = ["add_commands", "import_list", "read_summary"]

SUMMARY_FILE = "summary.json"
_MAX_WARNINGS = 200
_Sub = Any  # argparse's private _SubParsersAction
_REFUSALS = {"tsl_signature_invalid", "tsl_older", "tsl_not_imported"}


def read_summary(pki_dir: Path) -> dict[str, Any] | None:
    """The stored summary of the imported list, or ``None`` when nothing was imported."""
    path = stored_path(pki_dir).with_name(SUMMARY_FILE)
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except ValueError:  # damaged summary: the caller re-reads the list itself
        return None


def load_signer_certificates(path: Path) -> list[Certificate]:
    try:
        certs = load_certificates(path.read_bytes())
    except OSError as exc:
        raise TrustListError("tsl_signer_unreadable", f"сертификат подписи списка не прочитан: {exc}") from exc
    except Exception as exc:
        raise TrustListError("tsl_signer_unreadable", f"сертификат подписи списка не разобран: {path}") from exc
    if not certs:
        raise TrustListError("tsl_signer_unreadable", f"в файле нет сертификата подписи списка: {path}")
    return certs


def import_list(
    pki_dir: Path, data: bytes, *, signer: Sequence[Certificate] | None = None, force: bool = False, source: str = ""
) -> tuple[TrustedList, dict[str, Any]]:
    """Parse (and with ``signer`` verify) the list, then store it and its summary in ``pki_dir``."""
    tsl = parse_trusted_list(data, signer=signer or None)
    previous = read_summary(pki_dir)
    old = previous.get("version") if previous else None
    if not force and isinstance(old, int) and tsl.version is not None and tsl.version < old:
        raise TrustListError(
            "tsl_older", f"список версии {tsl.version} старше импортированного (версия {old}); чтобы заменить, укажите --force"
        )
    summary = {
        **tsl.summary(),
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "warning_list": list(tsl.warnings[:_MAX_WARNINGS]),
    }
    target = stored_path(pki_dir)
    write_atomic(target, data, mode=0o644)  # public data (the Ministry publishes it), read by every process
    write_atomic(target.with_name(SUMMARY_FILE), json.dumps(summary, ensure_ascii=False, indent=2).encode("utf-8"), mode=0o644)
    return tsl, summary


def _date(text: str | None) -> str:
    if not text:
        return "дата не указана"
    return f"{datetime.fromisoformat(text).astimezone(MOSCOW):%d.%m.%Y}"


_SIGNATURE_LINES = {
    "verified": ("проверена", "tsl_signature_verified"),
    "not_checked": ("есть, но не проверялась: сертификат подписи списка не задан", "tsl_signature_not_checked"),
    "absent": ("отсутствует", "tsl_unsigned"),
}


def _print_summary(summary: dict[str, Any]) -> None:
    print(f"  Версия: {summary.get('version') or 'не указана'} от {_date(summary.get('date'))}")
    print(f"  УЦ: {summary.get('cas')} (аккредитованы сейчас: {summary.get('active')})")
    print(f"  Сертификатов УЦ (доверенных корней): {summary.get('certificates')}")
    text, code = _SIGNATURE_LINES.get(str(summary.get("signature")), ("неизвестно", "tsl_signature_unknown"))
    signer = f" (подписал: {summary['signer']})" if summary.get("signer") else ""
    print(f"  Подпись списка: {text}{signer} [{code}]")
    warnings = summary.get("warning_list") or []
    if summary.get("warnings"):
        print(f"  Предупреждений при разборе: {summary['warnings']}")
        for line in warnings[:10]:
            print(f"    - {line}")


def _fail(args: argparse.Namespace, exc: TrustListError) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "code": exc.code, "message": exc.message}, ensure_ascii=False))
    else:
        print(f"Ошибка: {exc.message} [{exc.code}]", file=sys.stderr)
    return 1 if exc.code in _REFUSALS else 2


def _pki(args: argparse.Namespace, default: Callable[[], Path]) -> Path:
    return Path(args.pki_dir) if args.pki_dir else default()


def _import(args: argparse.Namespace, pki_dir: Callable[[], Path], signer_cert: Callable[[], Path | None]) -> int:
    try:
        cert_path = Path(args.signer_cert) if args.signer_cert else signer_cert()
        signer = load_signer_certificates(cert_path) if cert_path is not None else None
        try:
            data = Path(args.file).read_bytes()
        except OSError as exc:
            raise TrustListError("tsl_unreadable", f"файл списка не прочитан: {exc}") from exc
        directory = _pki(args, pki_dir)
        tsl, summary = import_list(directory, data, signer=signer, force=args.force, source=str(args.file))
    except TrustListError as exc:
        return _fail(args, exc)
    if args.json:
        print(json.dumps({"ok": True, "code": "tsl_imported", "file": str(stored_path(directory)), **summary}, ensure_ascii=False))
        return 0
    print(f"Список аккредитованных УЦ импортирован: {stored_path(directory)} [tsl_imported]")
    _print_summary(summary)
    if tsl.signed_by is None:
        print("Внимание: подпись списка не проверена — задайте --signer-cert или GATEWAY_TRUST__TSL_SIGNER_CERT.")
    return 0


def _describe_ca(tsl: TrustedList, query: str) -> None:
    found = tsl.find(query)
    if not found:
        print(f"  УЦ по запросу «{query}» не найден [tsl_ca_not_found]")
    for ca in found:
        state = "аккредитован" if ca.active else "не аккредитован"
        print(f"  {ca.name}")
        for label, value in (("ИНН", ca.inn), ("ОГРН", ca.ogrn), ("Реестровый №", ca.registry_number)):
            if value:
                print(f"    {label}: {value}")
        since = f" с {ca.status_since.astimezone(MOSCOW):%d.%m.%Y}" if ca.status_since else ""
        print(f"    Статус: {ca.status or 'не указан'}{since} ({state})")
        print(f"    Периоды аккредитации: {ca.periods_text()}")
        for key in ca.keys:
            c = key.certificate
            print(f"    Сертификат: {c.common_name}, № {c.serial:X}, с {c.not_before:%d.%m.%Y} по {c.not_after:%d.%m.%Y}")


def _show(args: argparse.Namespace, pki_dir: Callable[[], Path]) -> int:
    directory = _pki(args, pki_dir)
    try:
        summary = read_summary(directory)
        tsl: TrustedList | None = None
        if summary is None or args.ca:
            path = stored_path(directory)
            if not path.is_file():
                raise TrustListError(
                    "tsl_not_imported", f"список аккредитованных УЦ не импортирован в {directory} (gateway trust import-tsl ФАЙЛ)"
                )
            tsl = parse_trusted_list(path.read_bytes())
            summary = summary or {**tsl.summary(), "warning_list": list(tsl.warnings[:_MAX_WARNINGS])}
    except TrustListError as exc:
        return _fail(args, exc)
    if args.json:
        out: dict[str, Any] = {"ok": True, "code": "tsl_imported", "file": str(stored_path(directory)), **summary}
        if tsl is not None and args.ca:
            out["found"] = [
                {"name": ca.name, "inn": ca.inn, "ogrn": ca.ogrn, "registry_number": ca.registry_number,
                 "status": ca.status, "active": ca.active,
                 "periods": [[p.start.isoformat(), p.end.isoformat() if p.end else None] for p in ca.periods],
                 "certificates": [k.certificate.pem.decode("ascii") for k in ca.keys]}
                for ca in tsl.find(args.ca)
            ]  # fmt: skip
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"Импортированный список аккредитованных УЦ: {stored_path(directory)}")
    if summary.get("imported_at"):
        print(f"  Импортирован: {datetime.fromisoformat(summary['imported_at']):%d.%m.%Y %H:%M} UTC")
    _print_summary(summary)
    if tsl is not None and args.ca:
        _describe_ca(tsl, args.ca)
    return 0


def add_commands(sub: _Sub, pki_dir: Callable[[], Path], signer_cert: Callable[[], Path | None]) -> None:
    """Register ``trust import-tsl`` and ``trust show``; the callables read the settings when a command runs."""
    trust = sub.add_parser("trust", help="список аккредитованных УЦ Минцифры (доверенные корни)")
    commands = trust.add_subparsers(dest="trust_command", required=True)
    p = commands.add_parser("import-tsl", help="импортировать XML-список аккредитованных УЦ (e-trust.gosuslugi.ru)")
    p.add_argument("file", help="файл списка (XML)")
    p.add_argument("--signer-cert", help="сертификат подписи списка или его издателя (иначе GATEWAY_TRUST__TSL_SIGNER_CERT)")
    p.add_argument("--pki-dir", help="каталог доверенных корней (иначе GATEWAY_PKI_DIR)")
    p.add_argument("--force", action="store_true", help="принять список старше импортированного")
    p.add_argument("--json", action="store_true", help="итог одним объектом JSON")
    p.set_defaults(func=lambda args: _import(args, pki_dir, signer_cert))
    p = commands.add_parser("show", help="что импортировано")
    p.add_argument("--ca", help="показать УЦ по ИНН, ОГРН, реестровому номеру или части названия")
    p.add_argument("--pki-dir", help="каталог доверенных корней (иначе GATEWAY_PKI_DIR)")
    p.add_argument("--json", action="store_true", help="итог одним объектом JSON")
    p.set_defaults(func=lambda args: _show(args, pki_dir))
