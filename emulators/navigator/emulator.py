"""Emulated regional Navigator of additional education (REST/JSON, bearer tokens; stand-in OpenAPI).

Strict, as a real registry operator would be: every request body is validated against the
spec (errors name JSON pointers, never values), the pushed ``signed_xml`` must be the
declared kind with the declared number, its detached CMS (when given) must verify against
``trust``, an agreement must refer to a provider application or a registered provider and
a contract to a known certificate (``strict_references``), and a repeated ``message_id``
answers 200 with the first ``navigator_id`` (a duplicate in ``/_emulator/received``) or 409
when the content differs; every body is kept by its ``message_id`` in ``/_emulator/bodies``.  Registries (120,000 certificates by default) are generated
lazily and served by change cursor; the change feed holds what providers and families did.

The gateway reports what became of a pushed document (``POST
/api/v1/documents/{navigator_id}/status``) and corrects certificate records it issued
(``POST /api/v1/registries/certificates/corrections``, one record per number); both are
idempotent by ``message_id`` and recorded in ``/_emulator/received``.

Control API (beside ``/_emulator/received`` and ``/_emulator/faults``), under
``/_emulator/navigator/``: ``GET documents``; ``POST agreements/{navigator_id}/countersign``
``{cms?}`` (the provider signs: the given CMS, or one made with the emulator's provider key);
``POST agreements/{navigator_id}/refuse`` ``{reason?}`` (the provider declines to sign: a
``document_status`` change ``rejected`` with the reason);
``POST contracts`` ``{number, date, body}``; ``POST enrolments`` ``{…enrolment}``;
``POST registries/{name}/mutate`` ``{count, delete}``; ``POST reset`` ``{certificates,
providers}``; ``POST tokens/expire``; ``POST settings`` ``{token_ttl_s, strict_references,
auto_countersign}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from emulators.control import Control, application
from emulators.navigator import validation
from emulators.navigator.registries import CursorError, decode_cursor, encode_cursor
from emulators.navigator.state import NavigatorState
from signing import cms
from signing.certificates import Certificate, RevocationList
from signing.xml_parsing import UnsafeXMLError, parse_document

DOC_NS = "{urn:social-order-gateway:documents:1.0}"
ROOTS = {
    "provider_application": "ProviderRegistryApplication",
    "cost_agreement": "CostAgreement",
    "consumer_application": "ConsumerApplication",
    "social_certificate": "SocialCertificate",
    "service_contract": "ServiceContract",
}
STATE_KEY: web.AppKey[NavigatorState] = web.AppKey("navigator_state", NavigatorState)


def fail(status: int, code: str, message: str, errors: list[dict[str, str]] | None = None) -> web.Response:
    body = {"success": False, "code": code, "message": message, "errors": errors or [{"code": code, "pointer": "/"}]}
    return web.json_response(body, status=status)


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response({"success": True, "data": data}, status=status)


def _limit(request: web.Request, default: int, high: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise web.HTTPBadRequest(
            text='{"success": false, "code": "invalid_parameter", "errors": [{"code": "invalid_parameter", "pointer": "/limit"}]}',
            content_type="application/json",
        )
    return int(raw)


class NavigatorEmulator:
    def __init__(
        self, state: NavigatorState, control: Control, trust: Sequence[Certificate] = (), crl: Sequence[RevocationList] = ()
    ) -> None:
        self.state = state
        self.control = control
        self.trust = list(trust)
        self.crl = list(crl)

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            raise web.HTTPBadRequest(
                text='{"success": false, "code": "malformed_json", "errors": [{"code": "malformed_json", "pointer": "/"}]}',
                content_type="application/json",
            ) from None

    async def _observed(self, request: web.Request) -> Any:
        """The JSON body; its raw bytes kept under its ``message_id`` (``/_emulator/bodies``)."""
        body = await self._json(request)
        if isinstance(body, dict) and isinstance(body.get("message_id"), str):
            self.control.observe(body["message_id"], await request.read())
        return body

    def _auth(self, request: web.Request) -> web.Response | None:
        code = self.state.check_token(request.headers.get("Authorization"))
        return fail(401, code, "Требуется действующий токен доступа") if code else None

    # ------------------------------------------------------------------ API
    async def token(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        errors = validation.errors("TokenRequest", body)
        if errors:
            return fail(422, "invalid_request", "Запрос не соответствует схеме", errors)
        token = self.state.issue_token(body["client_id"], body["client_secret"])
        if token is None:
            return fail(401, "invalid_client", "Неверные учётные данные клиента")
        return ok({"access_token": token, "token_type": "Bearer", "expires_in": int(self.state.token_ttl_s)})

    async def push(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        push = await self._observed(request)
        errors = validation.errors("DocumentPush", push)
        if not errors:
            errors = validation.errors(validation.BODY_SCHEMAS[push["kind"]], push["body"], "/body")
        if errors:
            return fail(422, "schema_violation", "Документ не соответствует схеме", errors)
        try:
            signed_xml = base64.b64decode(push["signed_xml"], validate=True)
            signature = base64.b64decode(push["signature"], validate=True) if "signature" in push else None
        except (binascii.Error, ValueError):
            return fail(422, "invalid_base64", "signed_xml или signature не в base64")
        existing = self.state.by_message.get(push["message_id"])
        if existing is not None:
            doc = self.state.documents[existing]
            if doc.digest != hashlib.sha256(signed_xml).hexdigest():
                return fail(409, "message_id_conflict", "message_id уже использован для другого документа")
            self.control.record(push["message_id"], "document", document_kind=doc.kind, navigator_id=existing)
            return ok({"navigator_id": existing, "status": doc.status, "duplicate": True})
        problem = self._check_document(push, signed_xml, signature)
        if problem is not None:
            return problem
        doc = self.state.store(push, signed_xml, signature)
        self.control.record(push["message_id"], "document", document_kind=doc.kind, navigator_id=doc.navigator_id)
        return ok({"navigator_id": doc.navigator_id, "status": doc.status, "duplicate": False}, status=201)

    def _check_document(self, push: dict[str, Any], signed_xml: bytes, signature: bytes | None) -> web.Response | None:
        try:
            root = parse_document(signed_xml).getroot()
        except UnsafeXMLError:
            return fail(422, "document_invalid", "signed_xml не является корректным XML без DTD")
        if root.tag != DOC_NS + ROOTS[push["kind"]] or root.findtext(DOC_NS + "Number") != push["number"]:
            return fail(422, "document_mismatch", "signed_xml не совпадает с видом или номером документа")
        if signature is not None:
            try:
                reports = cms.verify_detached(signature, signed_xml, trusted=self.trust or None, crl=self.crl or None)
            except cms.CMSError:
                return fail(422, "signature_invalid", "Подпись CMS не разобрана")
            if not reports or any(
                r.errors or not (r.digest_ok and r.signature_ok) or (r.chain is not None and not r.chain.ok) for r in reports
            ):
                return fail(422, "signature_invalid", "Подпись документа не верна")
        if self.state.strict_references:
            body = push["body"]
            if push["kind"] == "cost_agreement" and not (
                self.state.application_known(body["applicationNumber"], push["municipality"])
                or self.state.provider_known(body["provider"]["inn"])
            ):
                return fail(422, "unknown_application", "Заявка исполнителя не найдена, исполнитель не в реестре",
                            [{"code": "unknown_application", "pointer": "/body/applicationNumber"}])  # fmt: skip
            if push["kind"] == "service_contract" and not self.state.certificate_known(body["certificateNumber"]):
                return fail(422, "unknown_certificate", "Сертификат не найден в реестре",
                            [{"code": "unknown_certificate", "pointer": "/body/certificateNumber"}])  # fmt: skip
        return None

    async def document(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        doc = self.state.documents.get(request.match_info["navigator_id"])
        if doc is None:
            return fail(404, "document_not_found", "Документ не найден")
        return ok({"navigator_id": doc.navigator_id, "kind": doc.kind, "number": doc.number, "status": doc.status})

    async def changes(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        limit = _limit(request, 100, 1000)
        try:
            after = decode_cursor("changes", request.query.get("cursor"))
        except CursorError as exc:
            return fail(400, "invalid_cursor", str(exc))
        items = self.state.events[after : after + limit]
        last = items[-1]["seq"] if items else after
        return ok({"items": items, "next_cursor": encode_cursor("changes", last), "has_more": last < len(self.state.events)})

    async def registry(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        name = request.match_info["registry"]
        registry = self.state.registry(name)
        if registry is None:
            return fail(404, "registry_not_found", "Реестр не найден")
        limit = _limit(request, 500, 5000)
        try:
            after = decode_cursor(name, request.query.get("cursor"))
        except CursorError as exc:
            return fail(400, "invalid_cursor", str(exc))
        items, last, more = registry.page(after, limit)
        remaining = max(0, registry.max_seq - last)
        return ok({"items": items, "next_cursor": encode_cursor(name, last), "has_more": more, "remaining": remaining})

    def _replay(
        self, seen: dict[str, tuple[str, dict[str, Any]]], message_id: str, body: Any, kind: str
    ) -> web.Response | None:
        """The first answer again for a repeated ``message_id`` (409 when the body differs)."""
        if message_id not in seen:
            return None
        digest, reply = seen[message_id]
        if digest != hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest():
            return fail(409, "message_id_conflict", "message_id уже использован для другого запроса")
        self.control.record(message_id, kind)
        return ok({**reply, "duplicate": True} if "duplicate" in reply else reply)

    async def report_status(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        body = await self._observed(request)
        errors = validation.errors("StatusReport", body)
        if errors:
            return fail(422, "schema_violation", "Сообщение не соответствует схеме", errors)
        doc = self.state.documents.get(request.match_info["navigator_id"])
        if doc is None:
            return fail(404, "document_not_found", "Документ не найден")
        replay = self._replay(self.state.reports, body["message_id"], body, "status")
        if replay is not None:
            return replay
        if body["status"] in ("concluded", "expired"):
            doc.status = body["status"]
        reply = {"navigator_id": doc.navigator_id, "kind": doc.kind, "number": doc.number, "status": doc.status}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        self.state.reports[body["message_id"]] = (digest, reply)
        self.control.record(body["message_id"], "status", navigator_id=doc.navigator_id, status=body["status"],
                            reason=body.get("reason"))  # fmt: skip
        return ok(reply)

    async def correct_certificates(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request)) is not None:
            return denied
        body = await self._observed(request)
        errors = validation.errors("CertificateCorrections", body)
        if errors:
            return fail(422, "schema_violation", "Исправления не соответствуют схеме", errors)
        replay = self._replay(self.state.corrections, body["message_id"], body, "corrections")
        if replay is not None:
            return replay
        applied = sum(1 for item in body["items"] if self.state.correct_certificate(item) is not None)
        reply = {"applied": applied, "duplicate": False}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        self.state.corrections[body["message_id"]] = (digest, reply)
        self.control.record(body["message_id"], "corrections", items=len(body["items"]), applied=applied)
        return ok(reply)

    # ------------------------------------------------------------------ control
    async def c_documents(self, request: web.Request) -> web.Response:
        return web.json_response({"items": [d.describe() for d in self.state.documents.values()]})

    async def c_countersign(self, request: web.Request) -> web.Response:
        doc = self.state.documents.get(request.match_info["navigator_id"])
        if doc is None or doc.kind != "cost_agreement":
            return web.json_response({"error": "agreement_not_found"}, status=404)
        text = await request.text()
        body = json.loads(text) if text.strip() else {}
        given = base64.b64decode(body["cms"]) if body.get("cms") else None
        try:
            event = self.state.countersign(doc, given)
        except LookupError:
            return web.json_response({"error": "no_provider_key"}, status=409)
        return web.json_response(event, status=201)

    async def c_refuse(self, request: web.Request) -> web.Response:
        doc = self.state.documents.get(request.match_info["navigator_id"])
        if doc is None or doc.kind != "cost_agreement":
            return web.json_response({"error": "agreement_not_found"}, status=404)
        text = await request.text()
        body = json.loads(text) if text.strip() else {}
        doc.status = "rejected"
        event = self.state.add_event(
            "document_status",
            document={"navigatorId": doc.navigator_id, "status": "rejected", "reason": str(body.get("reason", "declined"))},
        )
        return web.json_response(event, status=201)

    async def c_contract(self, request: web.Request) -> web.Response:
        body = await request.json()
        errors = validation.errors("ServiceContractBody", body.get("body"), "/body")
        if errors or not body.get("number") or not body.get("date"):
            return web.json_response({"error": "invalid_contract", "errors": errors}, status=422)
        event = self.state.add_event("contract", contract={"number": body["number"], "date": body["date"], "body": body["body"]})
        return web.json_response({"seq": event["seq"]}, status=201)

    async def c_enrolment(self, request: web.Request) -> web.Response:
        body = await request.json()
        required = {"id", "certificateNumber", "providerInn", "status", "date"}
        if not isinstance(body, dict) or not required <= set(body):
            return web.json_response({"error": "invalid_enrolment", "required": sorted(required)}, status=422)
        event = self.state.add_event("enrolment", enrolment=body)
        return web.json_response({"seq": event["seq"]}, status=201)

    async def c_mutate(self, request: web.Request) -> web.Response:
        registry = self.state.registry(request.match_info["name"])
        if registry is None:
            return web.json_response({"error": "registry_not_found"}, status=404)
        body = await request.json()
        changed = registry.mutate(int(body.get("count", 1)), delete=int(body.get("delete", 0)))
        return web.json_response({"changed": changed, "max_seq": registry.max_seq})

    async def c_reset(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.state.reset(int(body.get("certificates", self.state.certificates.count)),
                         int(body.get("providers", self.state.providers.count)))  # fmt: skip
        return web.json_response({"certificates": self.state.certificates.count, "providers": self.state.providers.count})

    async def c_expire(self, request: web.Request) -> web.Response:
        self.state.tokens = {t: 0.0 for t in self.state.tokens}
        return web.json_response({"expired": len(self.state.tokens)})

    async def c_settings(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "token_ttl_s" in body:
            self.state.token_ttl_s = float(body["token_ttl_s"])
        if "strict_references" in body:
            self.state.strict_references = bool(body["strict_references"])
        if "auto_countersign" in body:
            self.state.auto_countersign = bool(body["auto_countersign"])
        return web.json_response({"token_ttl_s": self.state.token_ttl_s, "strict_references": self.state.strict_references,
                                  "auto_countersign": self.state.auto_countersign})  # fmt: skip


def create_app(
    state: NavigatorState | None = None,
    *,
    trust: Sequence[Certificate] = (),
    crl: Sequence[RevocationList] = (),
    control: Control | None = None,
) -> web.Application:
    state = state or NavigatorState()
    control = control or Control("navigator")
    emulator = NavigatorEmulator(state, control, trust, crl)
    app = application(control, client_max_size=10 * 1024 * 1024)
    app[STATE_KEY] = state
    prefix = "/_emulator/navigator"
    app.add_routes(
        [
            web.post("/api/v1/auth/token", emulator.token),
            web.post("/api/v1/documents", emulator.push),
            web.get("/api/v1/documents/{navigator_id}", emulator.document),
            web.get("/api/v1/changes", emulator.changes),
            web.get("/api/v1/registries/{registry}", emulator.registry),
            web.post("/api/v1/documents/{navigator_id}/status", emulator.report_status),
            web.post("/api/v1/registries/certificates/corrections", emulator.correct_certificates),
            web.get(f"{prefix}/documents", emulator.c_documents),
            web.post(f"{prefix}/agreements/{{navigator_id}}/countersign", emulator.c_countersign),
            web.post(f"{prefix}/agreements/{{navigator_id}}/refuse", emulator.c_refuse),
            web.post(f"{prefix}/contracts", emulator.c_contract),
            web.post(f"{prefix}/enrolments", emulator.c_enrolment),
            web.post(f"{prefix}/registries/{{name}}/mutate", emulator.c_mutate),
            web.post(f"{prefix}/reset", emulator.c_reset),
            web.post(f"{prefix}/tokens/expire", emulator.c_expire),
            web.post(f"{prefix}/settings", emulator.c_settings),
        ]
    )
    return app
