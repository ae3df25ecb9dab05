"""``gateway pki|keys|sign|verify``: the signing commands, verdicts in Russian.

Registered by ``gateway.app.cli`` through :func:`add_commands`.  Exit status: 0 success,
1 a check failed, 2 bad usage or unreadable input.  Every verdict line carries a stable
English code in brackets for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from signing import cms, xmldsig
from signing.backend import get_backend
from signing.certificates import Certificate, RevocationList, load_certificates, load_crls
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


def _certificate_json(cert: Certificate, chain: ChainResult | None) -> dict[str, object]:
    """What ``keys show --json`` says of one certificate (the same facts as the text)."""
    from signing.oids import POLICY_NAMES
    from signing.qualified_profile import check_qualified_profile

    return {
        "subject": cert.subject, "issuer": cert.issuer, "serial": format(cert.serial, "X"),
        "not_before": cert.not_before.isoformat(), "not_after": cert.not_after.isoformat(),
        "inn": cert.inn, "innle": cert.innle, "ogrn": cert.ogrn, "snils": cert.snils,
        "key_usage": sorted(cert.key_usage), "policies": [{"oid": p, "name": POLICY_NAMES.get(p)} for p in cert.policies],
        "subject_sign_tool": cert.subject_sign_tool, "key_algorithm": cert.key_algorithm, "paramset": cert.paramset,
        "crl_urls": list(cert.crl_urls), "ocsp_urls": list(cert.ocsp_urls),
        "qualified_profile": [{"code": f.code, "attribute": f.attribute, "message": f.message}
                              for f in check_qualified_profile(cert)],
        "chain": None if chain is None else {"ok": chain.ok, "code": chain.code, "message": chain.message,
                                             "revocation": chain.revocation},
    }  # fmt: skip


def _keys_show(args: argparse.Namespace) -> int:
    certs = load_certificates(Path(args.cert).read_bytes())
    if not certs:
        _err("Сертификат не найден [no_certificate]")
        return 2
    if args.json:
        trusted = load_certificates(Path(args.trusted).read_bytes()) if args.trusted else None
        crls = load_crls(Path(args.crl).read_bytes()) if args.crl else ()
        shown = [_certificate_json(c, validate_chain(c, trusted, crls=crls) if trusted is not None else None) for c in certs]
        _out(json.dumps(shown, ensure_ascii=False))
        return 0
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
        if args.poa:
            ok_all &= _verify_poa(args, signers, trusted, crls, at)
    _out("Итог: все подписи верны [ok]" if ok_all else "Итог: есть неверные подписи [failed]")
    return 0 if ok_all else 1


def _verify_poa(args: argparse.Namespace, signers: list[cms.SignerReport], trusted: list[Certificate] | None,
                crls: list[RevocationList] | None, at: datetime | None) -> bool:  # fmt: skip
    """``verify --poa``: does the МЧД let the (one) signer act for its principal?"""
    from signing import power_of_attorney as mchd

    if not args.poa_signature:
        raise ValueError("для МЧД укажите и её подпись: --poa-signature ФАЙЛ")
    xml, sig = Path(args.poa).read_bytes(), Path(args.poa_signature).read_bytes()
    try:
        poa = mchd.parse_power_of_attorney(xml)
    except mchd.PoaFormatError as exc:
        _out(f"МЧД не принята: {exc.message} [{exc.code}]")
        return False
    principal = poa.principal
    _out(f"МЧД {poa.number}: действует с {poa.issued_on:%d.%m.%Y} по {poa.valid_until:%d.%m.%Y} [poa]")
    _out(f"  Доверитель: {principal.name}, ИНН {principal.inn or '—'}, ОГРН {principal.ogrn or '—'}")
    if len(signers) != 1 or signers[0].certificate is None:
        _out("  МЧД проверяется для подписи одного подписанта [poa_signer_count]")
        return False
    try:
        reports = cms.verify_detached(sig, xml, trusted=trusted, crl=crls, at=at)
    except cms.CMSError as exc:
        verdict = mchd.SignatureVerdict(None, False, False, str(exc))
    else:
        verdict = mchd.SignatureVerdict.from_reports(reports)
        if trusted is None and len(reports) == 1:  # as for the document: without --trusted only the value is checked
            verdict = mchd.SignatureVerdict(verdict.certificate, verdict.crypto_ok, verdict.crypto_ok, "")
        if reports and reports[0].certificate is not None:
            _out("  Подпись МЧД:")
            _describe(reports[0].certificate, "    ")
            _chain_line(reports[0].chain, "    ")
    codes = tuple(args.poa_power or mchd.SIGNING_POWERS)
    check = mchd.check_power_of_attorney(
        poa, signer=signers[0].certificate, organisation_inn=args.poa_inn or principal.inn,
        organisation_ogrn=args.poa_ogrn or principal.ogrn, at=at or datetime.now(UTC),
        required=mchd.RequiredPowers(codes), signature=verdict, revoked_at=None,
    )  # fmt: skip
    for failure in check.failures:
        _out(f"  Отказ: {failure.message} [{failure.code}]")
    if check.power is not None:
        _out(f"  Полномочие: {check.power.code} «{check.power.name}» [poa_power]")
    _out("  Отзыв МЧД в реестре ФНС не проверялся [poa_revocation_not_checked]")
    if check.ok:
        _out(f"  Итог МЧД: подписант действует от имени доверителя (ИНН {principal.inn}) [poa_ok]")
    else:
        _out("  Итог МЧД: полномочия подписанта не подтверждены [poa_failed]")
    return check.ok


def _secret(env: str | None, file: str | None, what: str) -> str | None:
    """A password from an environment variable or a file (first line); never echoed."""
    import os

    if env:
        value = os.environ.get(env)
        if value is None:
            raise ValueError(f"{what}: переменная окружения {env} не задана")
        return value
    if file:
        return Path(file).read_text(encoding="utf-8").splitlines()[0] if Path(file).stat().st_size else ""
    return None


def _keys_import(args: argparse.Namespace) -> int:
    """``keys import``: a PKCS#12 / CryptoPro PFX → the gateway's PKCS#12 (AES-256, SHA-256 MAC)."""
    import getpass

    from signing.cryptopro_pfx import PfxError, read_pfx
    from signing.gost_asn1 import parse_pkcs8, parse_spki
    from signing.oids import KEY_SIZE
    from signing.qualified_profile import check_qualified_profile

    password = _secret(args.password_env, args.password_file, "пароль контейнера")
    if password is None:
        if not sys.stdin.isatty():
            raise ValueError("укажите пароль контейнера: --password-env ПЕРЕМЕННАЯ или --password-file ФАЙЛ")
        password = getpass.getpass("Пароль контейнера: ")
    new_password = _secret(args.new_password_env, args.new_password_file, "новый пароль")
    target_password = password if new_password is None else new_password
    if not target_password:
        raise ValueError("ключ на диске хранится только зашифрованным: задайте пароль (--new-password-env)")
    try:
        contents = read_pfx(Path(args.file).read_bytes(), password)
    except PfxError as exc:
        _err(f"Контейнер не прочитан: {exc.message} [{exc.code}]")
        return 1 if exc.code == "pfx_password_invalid" else 2
    certs = list(contents.certificates) + (load_certificates(Path(args.cert).read_bytes()) if args.cert else [])
    key = parse_pkcs8(contents.pkcs8)
    mine = parse_spki(get_backend().load_private_key(contents.pkcs8, KEY_SIZE[key.algorithm]).public_key_info()).point_le
    leaf = next((c for c in certs if parse_spki(c.public_key_info).point_le == mine), None)
    if leaf is None:
        _err("В контейнере нет сертификата этого ключа; укажите его: --cert ФАЙЛ [certificate_missing]")
        return 2
    chain = [c for c in certs if c is not leaf]
    name = args.name or Path(args.file).stem
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    key_path = out / f"{name}.p12"
    key_path.touch(mode=0o600, exist_ok=True)
    key_path.chmod(0o600)
    key_path.write_bytes(make_pkcs12(contents.pkcs8, leaf, target_password, chain, name=name))
    (out / f"{name}.pem").write_bytes(b"".join(c.pem for c in (leaf, *chain)))
    sealed = "новым паролем" if new_password is not None else "паролем контейнера"
    _out(f"Ключ импортирован: {key_path} (PKCS#12, AES-256, зашифрован {sealed}) [imported]")
    _out(f"  Контейнер: {contents.variant}")
    _out(f"  Сертификаты: {out / f'{name}.pem'}")
    _describe(leaf)
    for failure in check_qualified_profile(leaf):
        _out(f"  Внимание: {failure.message} [{failure.code}]")
    env, file = (args.new_password_env, args.new_password_file) if new_password is not None else (args.password_env, args.password_file)
    _out("Фрагмент keys.yaml (municipality/org/role — по профилю муниципалитета):")
    _out("keys:")
    _out('  - municipality: "*"')
    _out('    org: "*"')
    _out('    role: "*"')
    _out(f"    key: {key_path.resolve()}")
    if env:
        _out(f"    password_env: {env}")
    elif file:
        _out(f"    password_file: {Path(file).resolve()}")
    else:
        _out("    password_env: ИМЯ_ПЕРЕМЕННОЙ  # пароль вводился вручную: задайте его через окружение")
    return 0


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


_ALGORITHM_LABELS = {
    "md_gost12_256": "ГОСТ Р 34.11-2012 (Стрибог), 256 бит",
    "md_gost12_512": "ГОСТ Р 34.11-2012 (Стрибог), 512 бит",
    "md_gost94": "ГОСТ Р 34.11-94",
    "gost2012_256": "ГОСТ Р 34.10-2012, 256 бит",
    "gost2012_512": "ГОСТ Р 34.10-2012, 512 бит",
}
_BACKEND_LABELS = {
    "openssl-provider": "провайдер GOST для OpenSSL 3",
    "openssl-engine": "движок GOST для OpenSSL (устаревший API)",
    "pure-python": "код на Python, примерно в 1000 раз медленнее",
}


def _signing_info(args: argparse.Namespace) -> int:
    import json

    from signing.backend import BackendUnavailable, backend_info

    try:
        info = backend_info()
    except BackendUnavailable as exc:
        _err(f"Ошибка: {exc} [backend_unavailable]")
        return 2
    a = info.algorithms
    if args.json:
        doc = {"backend": info.name, "openssl_version": info.openssl_version, "digests": list(a.digests),
               "key_types": list(a.key_types), "signatures": list(a.signatures), "forced": info.forced,
               "slow": info.slow, "skipped": [{"backend": n, "reason": why} for n, why in info.skipped]}  # fmt: skip
        _out(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0

    def labels(names: tuple[str, ...]) -> str:
        return "; ".join(f"{_ALGORITHM_LABELS.get(n, n)} ({n})" for n in names) or "нет"

    _out(f"Бэкенд ГОСТ: {info.name} — {_BACKEND_LABELS.get(info.name, info.name)}"
         + (" (задан GATEWAY_GOST_BACKEND)" if info.forced else ""))  # fmt: skip
    _out(f"OpenSSL: {info.openssl_version}")
    _out(f"Хэш-функции: {labels(a.digests)}")
    _out(f"Ключи: {labels(a.key_types)}")
    _out(f"Подписи: {labels(a.signatures)}")
    for name, why in info.skipped:
        _out(f"Не использован {name}: {why} [backend_skipped]")
    if info.slow:
        _out("Внимание: подписи делает медленный код на Python; установите libengine-gost-openssl [slow_backend]")
    return 0


def add_commands(sub: _Sub) -> None:
    """Register ``pki``, ``keys``, ``sign`` and ``verify`` on the ``gateway`` parser."""
    pki = sub.add_parser("pki", help="тестовый УЦ ГОСТ").add_subparsers(dest="pki_command", required=True)
    p = pki.add_parser("init", help="создать тестовый УЦ, сертификаты участников и список отзыва")
    p.add_argument("dir", help="каталог, куда записать УЦ, ключи и сертификаты")
    p.add_argument("--password", help="зашифровать ключи этим паролем")
    p.add_argument("--no-p12", action="store_true", help="не создавать файлы PKCS#12")
    p.set_defaults(func=_guard(_pki_init))

    keys = sub.add_parser("keys", help="ключи и сертификаты").add_subparsers(dest="keys_command", required=True)
    p = keys.add_parser("new", help="новый ключ ГОСТ и сертификат (самоподписанный или от УЦ)")
    p.add_argument("--out", required=True, help="префикс файлов: PREFIX.key.pem, PREFIX.pem")
    p.add_argument("--cn", required=True, help="CN владельца сертификата")
    p.add_argument("--org", help="наименование организации (O)")
    p.add_argument("--inn", help="ИНН физического лица или ИП")
    p.add_argument("--innle", help="ИНН юридического лица (ИНН ЮЛ)")
    p.add_argument("--ogrn", help="ОГРН (ОГРНИП)")
    p.add_argument("--snils", help="СНИЛС владельца")
    p.add_argument("--size", type=int, choices=(256, 512), default=256, help="длина ключа ГОСТ Р 34.10-2012, бит")
    p.add_argument("--paramset", default="A", help="набор параметров движка GOST (A, B, C, TCA…)")
    p.add_argument("--days", type=int, default=365, help="срок действия сертификата, дней")
    p.add_argument("--ca", action="store_true", help="самоподписанный сертификат УЦ")
    p.add_argument("--ca-key", help="ключ УЦ, который выпустит сертификат (иначе самоподписанный)")
    p.add_argument("--ca-cert", help="сертификат этого УЦ")
    p.add_argument("--ca-password", help="пароль ключа УЦ")
    p.add_argument("--password", help="зашифровать ключ (PKCS#8) этим паролем")
    p.add_argument("--p12", action="store_true", help="также создать PREFIX.p12")
    p.set_defaults(func=_guard(_keys_new))
    p = keys.add_parser("import", help="импорт ключа из PKCS#12 / PFX (в том числе экспорта КриптоПро CSP)")
    p.add_argument("file", help="файл .pfx / .p12")
    p.add_argument("--out", required=True, help="каталог для ключа шлюза (ИМЯ.p12) и сертификатов (ИМЯ.pem)")
    p.add_argument("--name", help="имя файлов (по умолчанию — имя исходного файла)")
    pw = p.add_mutually_exclusive_group()
    pw.add_argument("--password-env", metavar="VAR", help="пароль контейнера из переменной окружения")
    pw.add_argument("--password-file", metavar="FILE", help="пароль контейнера из файла (первая строка)")
    npw = p.add_mutually_exclusive_group()
    npw.add_argument("--new-password-env", metavar="VAR", help="зашифровать ключ шлюза другим паролем (из переменной)")
    npw.add_argument("--new-password-file", metavar="FILE", help="зашифровать ключ шлюза другим паролем (из файла)")
    p.add_argument("--cert", help="сертификат ключа, если его нет в контейнере")
    p.set_defaults(func=_guard(_keys_import))
    p = keys.add_parser("show", help="показать сертификат")
    p.add_argument("cert", help="сертификат (PEM или DER)")
    p.add_argument("--trusted", help="доверенные корневые сертификаты (PEM): проверить цепочку")
    p.add_argument("--crl", help="списки отзыва (PEM или DER)")
    p.add_argument("--json", action="store_true", help="сведения о сертификатах списком объектов JSON")
    p.set_defaults(func=_guard(_keys_show))

    sign = sub.add_parser("sign", help="подписать").add_subparsers(dest="sign_command", required=True)
    p = sign.add_parser("cms", help="отделённая подпись CMS (CAdES-BES), DER")
    p.add_argument("file", help="файл, который подписать")
    p.add_argument("--key", required=True, help="ключ PKCS#8 PEM или PKCS#12")
    p.add_argument("--cert", help="сертификат (для ключа PKCS#8)")
    p.add_argument("--password", help="пароль ключа")
    p.add_argument("--out", required=True, help="куда записать подпись (DER)")
    p.add_argument("--countersign", metavar="SIG", help="добавить подпись к существующей")
    p.set_defaults(func=_guard(_sign_cms))
    p = sign.add_parser("xml", help="XMLDSig в профиле СМЭВ")
    p.add_argument("file", help="XML-документ (сообщение СМЭВ)")
    p.add_argument("--id", required=True, help="Id подписываемого элемента")
    p.add_argument("--key", required=True, help="ключ PKCS#8 PEM или PKCS#12")
    p.add_argument("--cert", help="сертификат (для ключа PKCS#8)")
    p.add_argument("--password", help="пароль ключа")
    p.add_argument("--into", default="CallerInformationSystemSignature",
                   help="элемент-обёртка подписи (по умолчанию CallerInformationSystemSignature)")
    p.add_argument("--out", required=True, help="куда записать подписанный XML")
    p.set_defaults(func=_guard(_sign_xml))

    p = sub.add_parser("verify", help="проверить подписи XML или CMS")
    p.add_argument("file", help="подписанный XML или отделённая подпись CMS")
    p.add_argument("--content", help="подписанные данные (для отделённой CMS)")
    p.add_argument("--trusted", help="доверенные корневые сертификаты (PEM)")
    p.add_argument("--crl", help="списки отзыва (PEM или DER)")
    p.add_argument("--at", help="момент проверки, ISO 8601 (по умолчанию сейчас)")
    p.add_argument("--poa", metavar="ФАЙЛ", help="машиночитаемая доверенность (МЧД, XML формата 003), с которой подписано")
    p.add_argument("--poa-signature", metavar="ФАЙЛ", help="открепленная подпись МЧД руководителем доверителя")
    p.add_argument("--poa-inn", help="ИНН организации, от имени которой подписано (по умолчанию доверитель МЧД)")
    p.add_argument("--poa-ogrn", help="ОГРН этой организации")
    p.add_argument("--poa-power", action="append", metavar="КОД",
                   help="код полномочия, которое требуется (можно несколько; по умолчанию — подписание документов)")
    p.set_defaults(func=_guard(_verify))

    signing = sub.add_parser("signing", help="криптография ГОСТ шлюза").add_subparsers(dest="signing_command",
                                                                                    required=True)  # fmt: skip
    p = signing.add_parser("info", help="бэкенд ГОСТ, версия OpenSSL, доступные алгоритмы")
    p.add_argument("--json", action="store_true", help="вывод в JSON")
    p.set_defaults(func=_guard(_signing_info))


