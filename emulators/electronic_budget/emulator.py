"""Emulated GIIS «Электронный бюджет»: the stand-in SOAP service for social-order packages.

``POST /eb/social-order/v1`` takes SOAP 1.1 ``SubmitPackage`` and ``GetStatus``;
``GET /eb/social-order/v1?wsdl`` (and ``?xsd=social-order-eb.xsd``) serves the stand-in
contract.  Strict, as the real system would be: the request is validated against the
schema; ``PackageData`` must carry the submitting organisation's XMLDSig (SMEV profile,
GOST), checked against ``trust`` (the CA of ``--trust``) and the CRL, and the signer's
INN must be the submitter's; data is read only from the verified element; the document
must be the declared kind with the declared number; its detached CMS, when given, must
verify; a repeated ``MessageId`` returns the first registration (and shows up as a
duplicate in ``/_emulator/received``), unless the content differs.  Every ``PackageData``
submitted is kept by its ``MessageId`` in ``/_emulator/bodies`` (the signed element: the
signature value itself differs at every signing).

Control API: ``GET /_emulator/electronic_budget/packages``,
``POST /_emulator/electronic_budget/settings`` ``{processing_delay_s, publish_delay_s,
require_signature}``, ``POST /_emulator/electronic_budget/return-next`` ``{count, reasons:
[[code, text]]}`` (return the next N packages for correction).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web
from lxml import etree

from emulators.control import Control, application
from emulators.electronic_budget import soap
from emulators.electronic_budget.soap import EB, S, SoapFault
from emulators.electronic_budget.state import ElectronicBudgetState, Package, Publisher
from signing import cms, xmldsig
from signing.certificates import Certificate, RevocationList
from signing.xml_parsing import UnsafeXMLError, parse_document

PATH = "/eb/social-order/v1"
PACKAGE_DATA = EB + "PackageData"
DOCUMENT_ROOTS = {"SOCIAL_ORDER": "SocialOrder", "EXECUTION_REPORT": "OrderExecutionReport"}
MAX_BODY = 20 * 1024 * 1024


def _text(el: etree._Element, name: str) -> str | None:
    found = el.find(EB + name)
    return found.text if found is not None else None


def _b64(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise SoapFault("SCHEMA_VIOLATION", f"{what}: не base64") from None


class ElectronicBudgetEmulator:
    def __init__(
        self,
        state: ElectronicBudgetState,
        control: Control,
        *,
        trust: Sequence[Certificate] = (),
        crl: Sequence[RevocationList] = (),
    ) -> None:
        self.state = state
        self.control = control
        self.trust = list(trust)
        self.crl = list(crl)

    # ------------------------------------------------------------------ HTTP
    async def post(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            answer = await self._dispatch(raw)
            return web.Response(body=answer, content_type="text/xml", charset="utf-8")
        except SoapFault as f:
            return web.Response(
                status=500, body=soap.fault(f.code, f.message, client=f.client), content_type="text/xml", charset="utf-8"
            )

    async def get(self, request: web.Request) -> web.Response:
        address = f"{request.scheme}://{request.host}{PATH}"
        if "wsdl" in request.query:
            return web.Response(body=soap.wsdl_text(address), content_type="text/xml", charset="utf-8")
        if request.query.get("xsd") == soap.XSD_FILE.name:
            return web.Response(body=soap.XSD_FILE.read_bytes(), content_type="text/xml", charset="utf-8")
        return web.Response(status=404, text="?wsdl")

    async def _dispatch(self, raw: bytes) -> bytes:
        try:
            root = parse_document(raw).getroot()
        except UnsafeXMLError:
            raise SoapFault("MALFORMED_REQUEST", "Запрос не является корректным XML без DTD") from None
        body = root.find(S + "Body") if root.tag == S + "Envelope" else None
        children = [c for c in body if isinstance(c.tag, str)] if body is not None else []
        if len(children) != 1:
            raise SoapFault("MALFORMED_REQUEST", "Ожидается конверт SOAP 1.1 с одним элементом в Body")
        request = children[0]
        await self.state.advance()
        if request.tag == EB + "SubmitPackageRequest":
            soap.validate(request)
            return soap.envelope(await self._submit(raw, request))
        if request.tag == EB + "GetStatusRequest":
            soap.validate(request)
            return soap.envelope(self._status(_text(request, "RegistrationNumber") or ""))
        raise SoapFault("UNKNOWN_OPERATION", "Операция не поддерживается")

    # ------------------------------------------------------------------ SubmitPackage
    def _verified_package(self, raw: bytes, request: etree._Element) -> tuple[etree._Element, Certificate | None]:
        if request.find(EB + "SubmitterSignature") is None:
            if self.state.require_signature:
                raise SoapFault("SIGNATURE_MISSING", "Пакет не подписан электронной подписью организации")
            return request.find(PACKAGE_DATA), None  # type: ignore[return-value]
        try:
            reports = xmldsig.verify(raw, trusted=self.trust or None, crl=self.crl or None, expect_signed={PACKAGE_DATA})
        except UnsafeXMLError:
            raise SoapFault("MALFORMED_REQUEST", "Запрос не разобран") from None
        if len(reports) != 1:
            raise SoapFault("SIGNATURE_INVALID", "Ожидается ровно одна подпись пакета")
        report = reports[0]
        if not report.crypto_ok or report.signed_element is None:
            raise SoapFault("SIGNATURE_INVALID", "Подпись пакета не верна: " + ", ".join(report.codes or ["invalid"]))
        if report.chain is not None and not report.chain.ok:
            raise SoapFault(
                "CERTIFICATE_" + report.chain.code.upper(), f"Сертификат подписи не принят: {report.chain.message}"
            )
        return report.signed_element, report.certificate

    def _observe(self, request: etree._Element) -> None:
        """Keep the submitted ``PackageData`` (exclusive C14N, the signature outside it) by its ``MessageId``."""
        data_el = request.find(PACKAGE_DATA)
        message_id = _text(data_el, "MessageId") if data_el is not None else None
        if data_el is not None and message_id:
            self.control.observe(message_id, etree.tostring(data_el, method="c14n", exclusive=True))

    async def _submit(self, raw: bytes, request: etree._Element) -> etree._Element:
        self._observe(request)
        data_el, cert = self._verified_package(raw, request)
        submitter_el = data_el.find(EB + "Submitter")
        assert submitter_el is not None  # the schema requires it
        submitter = {k.lower(): _text(submitter_el, k) or "" for k in ("Name", "Inn", "Ogrn", "Kpp", "Role")}
        if cert is not None and submitter["inn"] not in {cert.innle, cert.inn}:
            raise SoapFault("SIGNER_MISMATCH", "Подпись сделана не организацией, указанной отправителем пакета")
        data: dict[str, Any] = {
            "message_id": _text(data_el, "MessageId") or "",
            "kind": _text(data_el, "DocumentKind") or "",
            "number": _text(data_el, "DocumentNumber") or "",
            "date": _text(data_el, "DocumentDate") or "",
            "year": _text(data_el, "Year") or "0",
            "municipality": _text(data_el, "Municipality") or "",
            "submitter": submitter,
            "correction_of": _text(data_el, "CorrectionOf"),
        }
        document = _b64(_text(data_el, "Document"), "Document")
        existing = self.state.by_message.get(data["message_id"])
        if existing is not None:
            package = self.state.packages[existing]
            if package.document_sha256 != self.state.digest(document):
                raise SoapFault("MESSAGE_ID_CONFLICT", "Идентификатор сообщения уже использован для другого документа")
            self.control.record(data["message_id"], "package", registration_number=existing, document_kind=package.kind)
            return self._registered(package, duplicate=True)
        self._check_document(data, document)
        signature = _text(data_el, "DocumentSignature")
        if signature is not None:
            self._check_document_signature(_b64(signature, "DocumentSignature"), document)
        if data["correction_of"]:
            previous = self.state.packages.get(data["correction_of"])
            if previous is None or previous.status != "RETURNED":
                raise SoapFault("CORRECTION_NOT_ALLOWED", "Исправлять можно только пакет, возвращённый на доработку")
        package = self.state.register(data, document, dt.datetime.now(dt.UTC))
        self.control.record(data["message_id"], "package", registration_number=package.registration_number, document_kind=package.kind)
        return self._registered(package, duplicate=False)

    def _check_document(self, data: dict[str, Any], document: bytes) -> None:
        try:
            root = parse_document(document).getroot()
        except UnsafeXMLError:
            raise SoapFault("DOCUMENT_INVALID", "Документ не является корректным XML без DTD") from None
        expected = "{" + soap.DOC_NS + "}" + DOCUMENT_ROOTS[data["kind"]]
        if root.tag != expected:
            raise SoapFault("DOCUMENT_KIND_MISMATCH", "Вид документа не соответствует заявленному в пакете")
        number = root.findtext("{" + soap.DOC_NS + "}Number")
        if number != data["number"]:
            raise SoapFault("DOCUMENT_NUMBER_MISMATCH", "Номер документа не совпадает с номером в пакете")

    def _check_document_signature(self, signature: bytes, document: bytes) -> None:
        try:
            reports = cms.verify_detached(signature, document, trusted=self.trust or None, crl=self.crl or None)
        except cms.CMSError:
            raise SoapFault("DOCUMENT_SIGNATURE_INVALID", "Подпись документа (CMS) не разобрана") from None
        for r in reports:
            if not (r.digest_ok and r.signature_ok and not r.errors) or (r.chain is not None and not r.chain.ok):
                raise SoapFault("DOCUMENT_SIGNATURE_INVALID", "Подпись документа не верна: " + ", ".join(r.codes or ["chain"]))

    def _registered(self, package: Package, *, duplicate: bool) -> etree._Element:
        out = soap.response("SubmitPackageResponse")
        soap.sub(out, "RegistrationNumber", package.registration_number)
        soap.sub(out, "RegisteredAt", package.registered_at.isoformat())
        soap.sub(out, "Status", package.status)
        soap.sub(out, "Duplicate", "true" if duplicate else "false")
        return out

    # ------------------------------------------------------------------ GetStatus
    def _status(self, number: str) -> etree._Element:
        package = self.state.packages.get(number)
        if package is None:
            raise SoapFault("UNKNOWN_REGISTRATION", "Пакет с таким регистрационным номером не найден")
        out = soap.response("GetStatusResponse")
        soap.sub(out, "RegistrationNumber", package.registration_number)
        soap.sub(out, "DocumentKind", package.kind)
        soap.sub(out, "Status", package.status)
        soap.sub(out, "StatusChangedAt", package.status_changed_at.isoformat())
        if package.reasons and package.status == "RETURNED":
            reasons = soap.sub(out, "Reasons")
            for code, text in package.reasons:
                reason = soap.sub(reasons, "Reason")
                soap.sub(reason, "Code", code)
                soap.sub(reason, "Text", text)
        if package.publication:
            pub = soap.sub(out, "Publication")
            soap.sub(pub, "Registry", package.publication["registry"])
            soap.sub(pub, "RecordId", package.publication["record_id"])
            soap.sub(pub, "PublishedAt", package.publication["published_at"])
        return out

    # ------------------------------------------------------------------ control
    async def packages(self, request: web.Request) -> web.Response:
        await self.state.advance()
        return web.json_response({"items": [p.describe() for p in self.state.packages.values()]})

    async def settings(self, request: web.Request) -> web.Response:
        body = await request.json()
        unknown = set(body) - {"processing_delay_s", "publish_delay_s", "require_signature"}
        if unknown:
            return web.json_response({"error": f"unknown fields: {sorted(unknown)}"}, status=400)
        if "processing_delay_s" in body:
            self.state.processing_delay_s = float(body["processing_delay_s"])
        if "publish_delay_s" in body:
            self.state.publish_delay_s = float(body["publish_delay_s"])
        if "require_signature" in body:
            self.state.require_signature = bool(body["require_signature"])
        return web.json_response(
            {"processing_delay_s": self.state.processing_delay_s, "publish_delay_s": self.state.publish_delay_s,
             "require_signature": self.state.require_signature}
        )  # fmt: skip

    async def return_next(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.state.return_next = int(body.get("count", 1))
        if body.get("reasons"):
            self.state.return_reasons = [(str(c), str(t)) for c, t in body["reasons"]]
        return web.json_response({"return_next": self.state.return_next})


EMULATOR_KEY: web.AppKey[ElectronicBudgetEmulator] = web.AppKey("electronic_budget", ElectronicBudgetEmulator)


def create_app(
    publisher: Publisher,
    *,
    trust: Sequence[Certificate] = (),
    crl: Sequence[RevocationList] = (),
    processing_delay_s: float = 1.0,
    publish_delay_s: float = 1.0,
    tick_s: float = 0.05,
    control: Control | None = None,
) -> web.Application:
    control = control or Control("electronic_budget")
    state = ElectronicBudgetState(publisher, processing_delay_s=processing_delay_s, publish_delay_s=publish_delay_s)
    emulator = ElectronicBudgetEmulator(state, control, trust=trust, crl=crl)
    app = application(control, client_max_size=MAX_BODY)
    app[EMULATOR_KEY] = emulator
    app.add_routes(
        [
            web.post(PATH, emulator.post),
            web.get(PATH, emulator.get),
            web.get("/_emulator/electronic_budget/packages", emulator.packages),
            web.post("/_emulator/electronic_budget/settings", emulator.settings),
            web.post("/_emulator/electronic_budget/return-next", emulator.return_next),
        ]
    )

    async def ticker(app: web.Application) -> AsyncIterator[None]:
        async def tick() -> None:
            while True:
                await asyncio.sleep(tick_s)
                await state.advance()

        task = asyncio.create_task(tick())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(ticker)
    return app
