"""``gateway pki|keys|sign|verify``: the signing commands, verdicts in Russian.

Registered by ``gateway.app.cli`` through :func:`add_commands`.  Exit status: 0 success,
1 a check failed, 2 bad usage or unreadable input.  Every verdict line carries a stable
English code in brackets for scripts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from signing import cms, xmldsig
from signing.backend import get_backend
from signing.certificates import Certificate, load_certificates, load_crls
from signing.chain import ChainResult, validate_chain
from signing.keys import GostSigner, KeyFileError, load_signer, make_pkcs12, pkcs8_to_pem
from signing.test_pki import create_test_pki, issue_certificate

__all__ = ["add_commands"]

_Sub = Any  # argparse's private _SubParsersAction


def _out(line: str = "") -> None:
    print(line)


def _err(line: str) -> None:
    print(line, file=sys.stderr)


def _describe(cert: Certificate, indent: str = "  ") -> None:
    _out(f"{indent}Владелец: {cert.common_name}")
    if cert.subject.get("O") and cert.subject.get("O") != cert.common_name:
        _out(f"{indent}Организация: {cert.subject['O']}")
    person = " ".join(v for v in (cert.subject.get("SN"), cert.subject.get("G")) if v)
    if person:
        _out(f"{indent}Лицо: {person}" + (f", {cert.subject['T']}" if cert.subject.get("T") else ""))
    for label, value in (("ИНН ЮЛ", cert.innle), ("ИНН", cert.inn), ("ОГРН", cert.ogrn), ("СНИЛС", cert.snils)):
        if value:
            _out(f"{indent}{label}: {value}")
    _out(f"{indent}Издатель: {cert.issuer.get('CN', cert.issuer_text)}")
    _out(f"{indent}Серийный номер: {cert.serial:X}")
    _out(f"{indent}Действителен: с {cert.not_before:%d.%m.%Y %H:%M} по {cert.not_after:%d.%m.%Y %H:%M} UTC")


def _chain_line(chain: ChainResult | None, indent: str = "  ") -> None:
    if chain is None:
        _out(f"{indent}Цепочка: не проверялась (не задан --trusted) [chain_not_checked]")
        return
    mark = "ДА" if chain.ok else "НЕТ"
    _out(f"{indent}Цепочка: {mark} — {chain.message} [{chain.code}]")
    if chain.ok:
        rev = {"good": "не отозван", "revoked": "отозван", "not_checked": "не проверялся (нет списка отзыва)"}
        _out(f"{indent}Отзыв: {rev.get(chain.revocation, chain.revocation)} [revocation_{chain.revocation}]")


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _pki_init(args: argparse.Namespace) -> int:
    pki = create_test_pki()
    files = pki.write(args.dir, args.password, pkcs12=False if args.no_p12 else None)
    _out(f"Тестовый УЦ создан в {args.dir} (бэкенд: {get_backend().name})")
    _out("  УЦ: ca.pem, список отзыва: ca.crl, ключ УЦ: ca.key.pem")
    for role, party in pki.parties.items():
        note = {"expired": " (срок истёк)", "revoked": " (отозван, в ca.crl)"}.get(party.valid, "")
        p12 = f", {role}.p12" if f"{role}.p12" in files else ""
        _out(f"  {party.title}: {files[role]}, ключ {role}.key.pem{p12}{note}")
    if args.password is None:
        _out("Внимание: ключи не зашифрованы (только для тестов); задайте --password для шифрования.")
    return 0


def _keys_new(args: argparse.Namespace) -> int:
    b = get_backend()
    size = 32 if args.size == 256 else 64
    key = b.generate(size, args.paramset)
    subject = {"CN": args.cn}
    for field, value in (("O", args.org), ("C", "RU"), ("INNLE", args.innle), ("INN", args.inn),
                         ("OGRN", args.ogrn), ("SNILS", args.snils)):
        if value:
            subject[field] = value
    now = datetime.now(UTC).replace(microsecond=0)
    issuer: GostSigner | None = None
    if args.ca_key:
        issuer = load_signer(args.ca_key, args.ca_cert, args.ca_password)
    cert = issue_certificate(issuer, key, subject, not_before=now - timedelta(minutes=5),
                             not_after=now + timedelta(days=args.days), ca=issuer is None and args.ca)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.pem").write_bytes(cert.pem)
    key_path = Path(f"{out}.key.pem")
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.write_bytes(pkcs8_to_pem(key.pkcs8(), args.password))
    _out(f"Ключ ГОСТ Р 34.10-2012 ({args.size} бит) и сертификат созданы: {out}.key.pem, {out}.pem")
    if args.p12:
        chain = [issuer.certificate] if issuer else []
        Path(f"{out}.p12").write_bytes(make_pkcs12(key.pkcs8(), cert, args.password or "", chain))
        _out(f"PKCS#12: {out}.p12")
    _describe(cert)
    return 0


def _keys_show(args: argparse.Namespace) -> int:
    certs = load_certificates(Path(args.cert).read_bytes())
    if not certs:
        _err("Сертификат не найден [no_certificate]")
        return 2
    for cert in certs:
        _out(f"Сертификат: {cert.subject_text}")
        _describe(cert)
        usage = ", ".join(sorted(cert.key_usage)) or "не указано"
        _out(f"  Использование ключа: {usage}")
        if cert.policies:
            from signing.oids import POLICY_NAMES

            _out("  Класс СКЗИ: " + ", ".join(POLICY_NAMES.get(p, p) for p in cert.policies))
        if cert.subject_sign_tool:
            _out(f"  Средство ЭП владельца: {cert.subject_sign_tool}")
        _out(f"  Алгоритм: {cert.key_algorithm}, параметры {cert.paramset}")
        if args.trusted:
            chain = validate_chain(cert, load_certificates(Path(args.trusted).read_bytes()),
                                   crls=load_crls(Path(args.crl).read_bytes()) if args.crl else ())
            _chain_line(chain)
    return 0


def _sign_cms(args: argparse.Namespace) -> int:
    signer = load_signer(args.key, args.cert, args.password)
    data = Path(args.file).read_bytes()
    if args.countersign:
        sig = cms.countersign(Path(args.countersign).read_bytes(), data, signer)
        what = "Добавлена вторая подпись (соподпись)"
    else:
        sig = cms.sign_detached(data, signer)
        what = "Создана отделённая подпись CMS"
    Path(args.out).write_bytes(sig)
    _out(f"{what}: {args.out} [signed]")
    _describe(signer.certificate)
    return 0


def _sign_xml(args: argparse.Namespace) -> int:
    signer = load_signer(args.key, args.cert, args.password)
    out = xmldsig.sign_element(Path(args.file).read_bytes(), args.id, signer, args.into)
    Path(args.out).write_bytes(out)
    where = f" в {args.into}"
    _out(f"Элемент Id={args.id} подписан (профиль СМЭВ){where}: {args.out} [signed]")
    _describe(signer.certificate)
    return 0


def _verify(args: argparse.Namespace) -> int:
    data = Path(args.file).read_bytes()
    trusted = load_certificates(Path(args.trusted).read_bytes()) if args.trusted else None
    crls = load_crls(Path(args.crl).read_bytes()) if args.crl else None
    at = _when(args.at)
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    ok_all = True
    if head == b"<":
        reports = xmldsig.verify(data, trusted=trusted, crl=crls, at=at)
        if not reports:
            _out("Подписей XMLDSig не найдено [no_signatures]")
            return 1
        for n, r in enumerate(reports, 1):
            verdict = r.ok if trusted else r.crypto_ok
            ok_all &= verdict
            _out(f"Подпись {n}: {'ВЕРНА' if verdict else 'НЕ ВЕРНА'} [{'valid' if verdict else 'invalid'}]")
            _out(f"  Ссылка: #{r.reference_id} ({r.signed_name or 'элемент не найден'})")
            _out(f"  Хэш (DigestValue): {'совпадает' if r.digest_ok else 'НЕ совпадает'}")
            _out(f"  Значение подписи: {'верно' if r.signature_ok else 'НЕ верно'}")
            for e, c in zip(r.errors, r.codes, strict=False):
                _out(f"  Ошибка: {e} [{c}]")
            if r.certificate:
                _describe(r.certificate)
            _chain_line(r.chain)
    else:
        if not args.content:
            _err("Для отделённой подписи CMS укажите --content ФАЙЛ [usage]")
            return 2
        content = Path(args.content).read_bytes()
        signers = cms.verify_detached(data, content, trusted=trusted, crl=crls, at=at)
        for n, s in enumerate(signers, 1):
            verdict = s.ok if trusted else s.crypto_ok
            ok_all &= verdict
            _out(f"Подписант {n}: {'ПОДПИСЬ ВЕРНА' if verdict else 'ПОДПИСЬ НЕ ВЕРНА'} [{'valid' if verdict else 'invalid'}]")
            for e, c in zip(s.errors, s.codes, strict=False):
                _out(f"  Ошибка: {e} [{c}]")
            if s.signing_time:
                _out(f"  Время подписи: {s.signing_time:%d.%m.%Y %H:%M:%S} UTC")
            if s.certificate:
                _describe(s.certificate)
            _chain_line(s.chain)
        if not signers:
            _out("Подписантов не найдено [no_signatures]")
            return 1
    _out("Итог: все подписи верны [ok]" if ok_all else "Итог: есть неверные подписи [failed]")
    return 0 if ok_all else 1


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except BrokenPipeError:
            raise
        except (OSError, ValueError, KeyFileError) as exc:
            _err(f"Ошибка: {exc} [error]")
            return 2

    return run


def add_commands(sub: _Sub) -> None:
    """Register ``pki``, ``keys``, ``sign`` and ``verify`` on the ``gateway`` parser."""
    pki = sub.add_parser("pki", help="тестовый УЦ ГОСТ").add_subparsers(dest="pki_command", required=True)
    p = pki.add_parser("init", help="создать тестовый УЦ, сертификаты участников и список отзыва")
    p.add_argument("dir")
    p.add_argument("--password", help="зашифровать ключи этим паролем")
    p.add_argument("--no-p12", action="store_true", help="не создавать файлы PKCS#12")
    p.set_defaults(func=_guard(_pki_init))

    keys = sub.add_parser("keys", help="ключи и сертификаты").add_subparsers(dest="keys_command", required=True)
    p = keys.add_parser("new", help="новый ключ ГОСТ и сертификат (самоподписанный или от УЦ)")
    p.add_argument("--out", required=True, help="префикс файлов: PREFIX.key.pem, PREFIX.pem")
    p.add_argument("--cn", required=True)
    p.add_argument("--org")
    p.add_argument("--inn")
    p.add_argument("--innle")
    p.add_argument("--ogrn")
    p.add_argument("--snils")
    p.add_argument("--size", type=int, choices=(256, 512), default=256)
    p.add_argument("--paramset", default="A", help="набор параметров движка GOST (A, B, C, TCA…)")
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--ca", action="store_true", help="самоподписанный сертификат УЦ")
    p.add_argument("--ca-key")
    p.add_argument("--ca-cert")
    p.add_argument("--ca-password")
    p.add_argument("--password", help="зашифровать ключ (PKCS#8) этим паролем")
    p.add_argument("--p12", action="store_true", help="также создать PREFIX.p12")
    p.set_defaults(func=_guard(_keys_new))
    p = keys.add_parser("show", help="показать сертификат")
    p.add_argument("cert")
    p.add_argument("--trusted")
    p.add_argument("--crl")
    p.set_defaults(func=_guard(_keys_show))

    sign = sub.add_parser("sign", help="подписать").add_subparsers(dest="sign_command", required=True)
    p = sign.add_parser("cms", help="отделённая подпись CMS (CAdES-BES), DER")
    p.add_argument("file")
    p.add_argument("--key", required=True, help="ключ PKCS#8 PEM или PKCS#12")
    p.add_argument("--cert")
    p.add_argument("--password")
    p.add_argument("--out", required=True)
    p.add_argument("--countersign", metavar="SIG", help="добавить подпись к существующей")
    p.set_defaults(func=_guard(_sign_cms))
    p = sign.add_parser("xml", help="XMLDSig в профиле СМЭВ")
    p.add_argument("file")
    p.add_argument("--id", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--cert")
    p.add_argument("--password")
    p.add_argument("--into", default="CallerInformationSystemSignature",
                   help="элемент-обёртка подписи (по умолчанию CallerInformationSystemSignature)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=_guard(_sign_xml))

    p = sub.add_parser("verify", help="проверить подписи XML или CMS")
    p.add_argument("file")
    p.add_argument("--content", help="подписанные данные (для отделённой CMS)")
    p.add_argument("--trusted", help="доверенные корневые сертификаты (PEM)")
    p.add_argument("--crl", help="списки отзыва (PEM или DER)")
    p.add_argument("--at", help="момент проверки, ISO 8601 (по умолчанию сейчас)")
    p.set_defaults(func=_guard(_verify))


