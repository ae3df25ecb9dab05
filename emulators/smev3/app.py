"""The SMEV 3 emulator as an aiohttp application, and its standalone runner.

SOAP endpoints at the official WSDL's paths: ``/transport_1_0_1/`` (schema 1.1) and
``/transport_1_0_2/`` (1.3); ``GET <path>?wsdl`` serves the official WSDL (addresses
pointed here), ``?xsd=NAME`` its schemas.  Control plane under ``/_emulator/`` (shared
``received``, ``bodies`` (by SMEV MessageID, the signed element) and ``faults``, plus):

- ``POST /_emulator/epgu/applications`` ``{"count": N, "version": "1.3", "applications": [{…}], "test": false}``
  → ``{"sent": [{"message_id", "order_id"}]}``: EPGU sends N applications to the gateway;
- ``GET /_emulator/epgu/statuses`` (``DELETE`` clears): the responses EPGU received, each
  with EPGU's check of its signature, ``duplicates`` per (application, status code);
- ``POST /_emulator/smev/corrupt`` ``{"mode": "signature"|"content", "count": 1}`` (``DELETE``):
  break the ЭП-СМЭВ of the next signed answers "in transit";
- ``POST /_emulator/smev/routes`` ``{"namespace", "root", "recipient"}``: register a business type;
- ``GET /_emulator/smev/queues``: pending messages; ``GET /_emulator/smev/ca.pem``: the CA of ЭП-СМЭВ;
- ``GET /_emulator/smev/certificate.pem``, ``GET /_emulator/epgu/certificate.pem``: the certificates
  of ЭП-СМЭВ and of EPGU's ЭП-ОВ, and ``GET /_emulator/smev/pins`` the same as JSON
  (``{"smev": {"sha256": [...], "certificate": PEM}, "senders": {"epgu": {"mnemonics": [...], "sha256": [...],
  "certificate": PEM}}}``): what a gateway pins when it works with this emulator (demo, tests);
- ``PUT|GET /_emulator/fs/{uuid}/{name}``: the file store for attachments by reference.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from emulators.control import Control, application
from emulators.smev3 import epgu, protocol
from emulators.smev3.checks import Trust
from emulators.smev3.faults import SmevFault, fault_envelope, fault_response
from emulators.smev3.keys import Identity, generate_identity
from emulators.smev3.service import Settings, Smev
from emulators.smev3.wire import read_body, xml_response
from signing.certificates import Certificate, RevocationList, load_certificates, load_crls
from signing.keys import Signer

DEFAULT_PORT = 7500
MAX_BODY = 20 * 1024 * 1024
SMEV = web.AppKey("smev", Smev)
log = logging.getLogger("emulators.smev3")


def _certs(value: str | Path | Sequence[Certificate] | Certificate | None) -> list[Certificate]:
    if value is None:
        return []
    if isinstance(value, Certificate):
        return [value]
    if isinstance(value, str | Path):
        return load_certificates(Path(value).read_bytes())
    return list(value)


def _crls(value: str | Path | Sequence[RevocationList] | RevocationList | None) -> list[RevocationList]:
    if value is None:
        return []
    if isinstance(value, RevocationList):
        return [value]
    if isinstance(value, str | Path):
        return load_crls(Path(value).read_bytes())
    return list(value)


def create_app(
    *,
    trust: str | Path | Sequence[Certificate] | Certificate | None = None,
    crl: str | Path | Sequence[RevocationList] | RevocationList | None = None,
    smev_signer: Signer | None = None,
    epgu_signer: Signer | None = None,
    gateway_mnemonic: str = "SOCORD01",
    redelivery_s: float = 5.0,
    default_version: str = "1.3",
    mtom_replies: bool = False,
) -> web.Application:
    """The emulator.  ``trust``: roots for ЭП-ОВ (e.g. the gateway's test CA); ``crl``: their CRLs.

    Without signers the emulator makes its own CA, ЭП-СМЭВ and EPGU keys (see
    :mod:`emulators.smev3.keys`); EPGU's issuer is always trusted.
    """
    generated = generate_identity() if smev_signer is None or epgu_signer is None else None
    identity = Identity(smev_signer or generated.smev, epgu_signer or generated.epgu, generated.ca if generated else None)  # type: ignore[union-attr]
    anchors = _certs(trust)
    for extra in [identity.ca, *getattr(identity.epgu, "chain", ())]:
        if extra is not None and all(extra.der != a.der for a in anchors):
            anchors.append(extra)
    control = Control("smev")
    smev = Smev(Trust(anchors, _crls(crl)), identity,
                Settings(gateway_mnemonic, default_version, redelivery_s, mtom_replies), control)  # fmt: skip
    app = application(control, client_max_size=MAX_BODY)
    app[SMEV] = smev
    for version, path in protocol.PATHS.items():
        app.router.add_get(path, _metadata(version))
        app.router.add_post(path, _soap(version))
    app.router.add_post("/_emulator/epgu/applications", _inject)
    app.router.add_get("/_emulator/epgu/statuses", _statuses)
    app.router.add_delete("/_emulator/epgu/statuses", _clear_statuses)
    app.router.add_post("/_emulator/smev/corrupt", _corrupt)
    app.router.add_delete("/_emulator/smev/corrupt", _corrupt_off)
    app.router.add_post("/_emulator/smev/routes", _route)
    app.router.add_get("/_emulator/smev/queues", _queues)
    app.router.add_get("/_emulator/smev/ca.pem", _ca)
    app.router.add_get("/_emulator/smev/certificate.pem", _smev_certificate)
    app.router.add_get("/_emulator/epgu/certificate.pem", _epgu_certificate)
    app.router.add_get("/_emulator/smev/pins", _pins)
    app.router.add_put("/_emulator/fs/{uuid}/{name}", _fs_put)
    app.router.add_get("/_emulator/fs/{uuid}/{name}", _fs_get)
    return app


def _metadata(version: str):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.Response:
        if "wsdl" in request.query:
            base = f"{request.scheme}://{request.host}{protocol.PATHS[version]}"
            return web.Response(body=protocol.wsdl(version, base), content_type="text/xml", charset="utf-8")
        name = request.query.get("xsd")
        data = protocol.xsd(version, name) if name else None
        if data is None:
            raise web.HTTPNotFound(text="use ?wsdl or ?xsd=NAME")
        return web.Response(body=data, content_type="text/xml", charset="utf-8")

    return handler


def _soap(version: str):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.Response:
        smev = request.app[SMEV]
        try:
            xml = await read_body(request, MAX_BODY)
        except ValueError:
            return fault_response(version, SmevFault("InvalidContent", "Сообщение MTOM не разобрано", client=True))
        try:
            body = smev.process(version, xml)
        except SmevFault as fault:
            log.info("smev %s fault %s", version, fault.kind)
            return fault_response(version, fault)
        except Exception:
            log.exception("smev emulator failure")
            return fault_response(version, SmevFault("SMEVFailure", "Внутренняя ошибка СМЭВ"))
        return xml_response(body, mtom=smev.settings.mtom_replies)

    return handler


async def _inject(request: web.Request) -> web.Response:
    smev = request.app[SMEV]
    body = await request.json() if request.can_read_body else {}
    version = str(body.get("version", smev.settings.default_version))
    if version not in protocol.PATHS:
        return web.json_response({"error": "version must be 1.1 or 1.3"}, status=400)
    try:
        sent = smev.inject(version, list(body.get("applications", [])), int(body.get("count", 1)), bool(body.get("test", False)))
    except SmevFault as fault:
        return web.json_response({"error": fault.kind, "detail": fault.text}, status=400)
    except (ValueError, KeyError) as exc:
        return web.json_response({"error": "bad_application", "detail": str(exc)}, status=400)
    return web.json_response({"sent": sent})


async def _statuses(request: web.Request) -> web.Response:
    return web.json_response(request.app[SMEV].epgu.describe())


async def _clear_statuses(request: web.Request) -> web.Response:
    request.app[SMEV].epgu.statuses.clear()
    return web.json_response({"cleared": True})


async def _corrupt(request: web.Request) -> web.Response:
    smev = request.app[SMEV]
    body = await request.json()
    mode = body.get("mode", "signature")
    if mode not in ("signature", "content"):
        return web.json_response({"error": "mode must be signature or content"}, status=400)
    smev.corrupt_mode, smev.corrupt_count = mode, body.get("count")
    return web.json_response({"mode": mode, "count": smev.corrupt_count})


async def _corrupt_off(request: web.Request) -> web.Response:
    smev = request.app[SMEV]
    smev.corrupt_mode, smev.corrupt_count = None, None
    return web.json_response({"mode": None})


async def _route(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[SMEV].routes[(body["namespace"], body["root"])] = body["recipient"]
    return web.json_response({"routes": len(request.app[SMEV].routes)})


async def _queues(request: web.Request) -> web.Response:
    return web.json_response({"pending": request.app[SMEV].queues.describe()})


async def _ca(request: web.Request) -> web.Response:
    smev = request.app[SMEV]
    chain = [smev.identity.ca] if smev.identity.ca else list(getattr(smev.identity.smev, "chain", ()))
    return web.Response(body=b"".join(c.pem for c in chain), content_type="application/x-pem-file")


def _pem(certificate: Certificate) -> web.Response:
    return web.Response(body=certificate.pem, content_type="application/x-pem-file")


async def _smev_certificate(request: web.Request) -> web.Response:
    return _pem(request.app[SMEV].identity.smev.certificate)


async def _epgu_certificate(request: web.Request) -> web.Response:
    return _pem(request.app[SMEV].identity.epgu.certificate)


def pins(smev: Smev) -> dict[str, object]:
    """What a gateway pins for this emulator: ЭП-СМЭВ and, per sender system, its mnemonics and ЭП-ОВ."""

    def one(certificate: Certificate) -> dict[str, object]:
        return {"sha256": [hashlib.sha256(certificate.der).hexdigest()], "certificate": certificate.pem.decode("ascii")}

    return {"smev": one(smev.identity.smev.certificate),
            "senders": {"epgu": {"mnemonics": [epgu.MNEMONIC], **one(smev.identity.epgu.certificate)}}}  # fmt: skip


async def _pins(request: web.Request) -> web.Response:
    return web.json_response(pins(request.app[SMEV]))


def _fs_auth(request: web.Request) -> None:
    import base64

    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic ") or base64.b64decode(header[6:]).decode(errors="replace") != "anonymous:smev":
        raise web.HTTPUnauthorized()


async def _fs_put(request: web.Request) -> web.Response:
    _fs_auth(request)
    request.app[SMEV].files[(request.match_info["uuid"], request.match_info["name"])] = await request.read()
    return web.Response(status=201)


async def _fs_get(request: web.Request) -> web.Response:
    _fs_auth(request)
    data = request.app[SMEV].files.get((request.match_info["uuid"], request.match_info["name"]))
    if data is None:
        raise web.HTTPNotFound()
    return web.Response(body=data, content_type="application/octet-stream")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m emulators.smev3 [--port N] [--trust CAFILE] [--crl FILE] [--write-ca FILE]``."""
    p = argparse.ArgumentParser(prog="emulators.smev3", description="Эмулятор СМЭВ 3 (и ЕПГУ) на loopback")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--trust", default="var/pki/ca.pem", help="корневой сертификат для проверки ЭП-ОВ (по умолчанию CA из gateway pki init)")
    p.add_argument("--crl", default=None, help="список отзыва (по умолчанию ca.crl рядом с --trust, если есть)")
    p.add_argument("--mnemonic", default="SOCORD01", help="мнемоника ИС шлюза")
    p.add_argument("--redelivery-s", type=float, default=5.0)
    p.add_argument("--mtom", action="store_true", help="отвечать в виде MTOM multipart")
    p.add_argument("--write-ca", default=None, help="записать сертификат УЦ ЭП-СМЭВ в файл")
    p.add_argument("--write-certificates", default=None, metavar="DIR",
                   help="записать сертификаты ЭП-СМЭВ (smev.pem) и ЭП-ОВ ЕПГУ (epgu.pem) в каталог — для закрепления в шлюзе")  # fmt: skip
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    trust = Path(args.trust)
    if not trust.is_file():
        log.warning("нет файла доверенных сертификатов %s: все запросы будут отклонены (CertificateIsNotFound)", trust)
    crl = Path(args.crl) if args.crl else trust.with_name("ca.crl")
    app = create_app(trust=trust if trust.is_file() else None, crl=crl if crl.is_file() else None, gateway_mnemonic=args.mnemonic,
                     redelivery_s=args.redelivery_s, mtom_replies=args.mtom)  # fmt: skip
    smev = app[SMEV]
    if args.write_ca and smev.identity.ca is not None:
        Path(args.write_ca).write_bytes(smev.identity.ca.pem)
    if args.write_certificates:
        out = Path(args.write_certificates)
        out.mkdir(parents=True, exist_ok=True)
        (out / "smev.pem").write_bytes(smev.identity.smev.certificate.pem)
        (out / "epgu.pem").write_bytes(smev.identity.epgu.certificate.pem)
    for version, path in protocol.PATHS.items():
        print(f"smev {version}: http://{args.host}:{args.port}{path} (WSDL: ?wsdl)", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None)


__all__ = ["DEFAULT_PORT", "SMEV", "create_app", "fault_envelope", "main"]
