"""Emulated certification authority: the CRL at its distribution point and an OCSP responder.

Serves the test CA (``signing.test_pki``) the way a qualified CA publishes revocation:

- ``GET /crl/ca.crl``: the CA's current CRL (DER; ``?pem=1`` for PEM), issued anew when a
  serial is revoked or the previous list reaches its nextUpdate.
- ``POST /ocsp`` (``application/ocsp-request``): an answer signed by the delegated OCSP
  responder (id-kp-OCSPSigning, issued by the CA), echoing the request's nonce: ``good``
  for what the CA issued and did not revoke, ``revoked`` (time, reason) for what it
  revoked, ``unknown`` for serials it is told it does not know.
- ``GET /ca.pem``: the CA certificate (the caIssuers address).

Control (besides the shared ``/_emulator/faults``: ``status`` 500, ``latency_ms`` to make
a fetch time out): ``POST /_emulator/ca/revoke`` ``{"serial": hex, "reason"?}``;
``POST /_emulator/ca/unknown`` ``{"serial": hex}``; ``POST /_emulator/ca/settings``
``{"crl_next_update_s"?, "crl_this_update_s"?, "ocsp_next_update_s"?, "ocsp_signer"?: "responder" | "ca" | "rogue",
"crl_signer"?: "ca" | "rogue"}`` (a negative ``crl_next_update_s`` publishes an expired
list; ``rogue`` signs with the key of a look-alike CA of the same name, which the real CA
never authorised); ``GET /_emulator/ca/state``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from asn1crypto import ocsp, pem

from emulators.control import Control, application
from signing.backend import get_backend
from signing.certificates import RevocationList
from signing.keys import GostSigner, load_signer
from signing.test_pki import (
    OcspAnswer,
    issue_certificate,
    issue_crl,
    issue_ocsp_responder,
    ocsp_error_response,
    ocsp_response,
)

__all__ = ["CRL_PATH", "OCSP_PATH", "CA_PATH", "CaState", "create_app", "state_from_dir", "main"]

log = logging.getLogger("emulators.ca")

CRL_PATH = "/crl/ca.crl"
OCSP_PATH = "/ocsp"
CA_PATH = "/ca.pem"
STATE_KEY: web.AppKey[CaState] = web.AppKey("ca_state")


@dataclass
class CaState:
    """What the CA has revoked and does not know, and how it dates its answers."""

    ca: GostSigner
    responder: GostSigner | None = None
    revoked: dict[int, tuple[datetime, str | None]] = field(default_factory=dict)
    unknown: set[int] = field(default_factory=set)
    crl_next_update_s: float = 3600.0
    crl_this_update_s: float = -60.0  # thisUpdate relative to the moment of issue
    ocsp_next_update_s: float = 600.0
    ocsp_signer: str = "responder"  # responder | ca | rogue
    crl_signer: str = "ca"  # ca | rogue
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _crl: RevocationList | None = None
    _rogue: GostSigner | None = None
    _rogue_ca: GostSigner | None = None
    crl_requests: int = 0
    ocsp_requests: int = 0

    def revoke(self, serial: int, reason: str | None = None, at: datetime | None = None) -> None:
        self.revoked[serial] = ((at or self.clock()).replace(microsecond=0), reason)
        self._crl = None

    def forget(self, serial: int) -> None:
        """Answer ``unknown`` for ``serial`` over OCSP."""
        self.unknown.add(serial)

    def crl(self) -> RevocationList:
        now = self.clock().replace(microsecond=0)
        current = self._crl
        if current is None or (current.next_update is not None and current.next_update <= now and self.crl_next_update_s > 0):
            revoked = {s: t for s, (t, _) in self.revoked.items()}
            reasons = {s: r for s, (_, r) in self.revoked.items() if r}
            signer = self._look_alike_ca() if self.crl_signer == "rogue" else self.ca
            current = self._crl = issue_crl(
                signer, revoked, now + timedelta(seconds=self.crl_this_update_s),
                now + timedelta(seconds=self.crl_next_update_s), reasons,
            )  # fmt: skip
        return current

    def _look_alike_ca(self) -> GostSigner:
        if self._rogue_ca is None:
            b = get_backend()
            now = self.clock()
            key = b.generate(self.ca.certificate.key_size, "A")
            cert = issue_certificate(None, key, self.ca.certificate.subject, not_before=now - timedelta(days=1),
                                     not_after=now + timedelta(days=30), ca=True)  # fmt: skip
            self._rogue_ca = GostSigner(key, cert, backend=b)
        return self._rogue_ca

    def _signer(self) -> GostSigner:
        if self.ocsp_signer == "ca" or (self.ocsp_signer == "responder" and self.responder is None):
            return self.ca
        if self.ocsp_signer == "rogue":
            if self._rogue is None:
                # an OCSP-signing certificate the CA never issued: from a look-alike CA with the same name
                b = get_backend()
                now = self.clock()
                other = b.generate(self.ca.certificate.key_size, "A")
                cert = issue_ocsp_responder(self._look_alike_ca(), other, not_before=now - timedelta(days=1),
                                            not_after=now + timedelta(days=30))  # fmt: skip
                self._rogue = GostSigner(other, cert, backend=b)
            return self._rogue
        assert self.responder is not None
        return self.responder

    def answer(self, request_der: bytes) -> bytes:
        try:
            req = ocsp.OCSPRequest.load(request_der)
            tbs = req["tbs_request"]
            ids = [r["req_cert"] for r in tbs["request_list"]]
            nonce = None
            for ext in tbs["request_extensions"]:
                if ext["extn_id"].dotted == "1.3.6.1.5.5.7.48.1.2":
                    nonce = cast(bytes, ext["extn_value"].parsed.native)
        except (ValueError, KeyError, TypeError, IndexError):
            return ocsp_error_response("malformed_request")
        now = self.clock().replace(microsecond=0)
        answers = []
        for cid in ids:
            serial = int(cid["serial_number"].native)
            if serial in self.unknown:
                answers.append(OcspAnswer(cid, "unknown"))
            elif serial in self.revoked:
                at, reason = self.revoked[serial]
                answers.append(OcspAnswer(cid, "revoked", at, reason))
            else:
                answers.append(OcspAnswer(cid, "good"))
        return ocsp_response(self._signer(), answers, this_update=now - timedelta(seconds=1),
                             next_update=now + timedelta(seconds=self.ocsp_next_update_s), produced_at=now, nonce=nonce)  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {
            "revoked": {format(s, "x"): {"at": t.isoformat(), "reason": r} for s, (t, r) in self.revoked.items()},
            "unknown": sorted(format(s, "x") for s in self.unknown),
            "crl_next_update_s": self.crl_next_update_s, "crl_this_update_s": self.crl_this_update_s,
            "ocsp_next_update_s": self.ocsp_next_update_s, "ocsp_signer": self.ocsp_signer, "crl_signer": self.crl_signer,
            "crl_requests": self.crl_requests, "ocsp_requests": self.ocsp_requests,
        }  # fmt: skip


def _serial(body: Any) -> int:
    value = body.get("serial") if isinstance(body, dict) else None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value, 16)
    raise web.HTTPBadRequest(text="serial: hex string or integer")


async def _get_crl(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.crl_requests += 1
    crl = state.crl()
    if request.query.get("pem"):
        return web.Response(body=bytes(pem.armor("X509 CRL", crl.der)), content_type="application/x-pem-file")
    return web.Response(body=crl.der, content_type="application/pkix-crl")


async def _get_ca(request: web.Request) -> web.Response:
    return web.Response(body=request.app[STATE_KEY].ca.certificate.pem, content_type="application/x-pem-file")


async def _post_ocsp(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.ocsp_requests += 1
    body = await request.read()
    answer = await asyncio.to_thread(state.answer, body)
    return web.Response(body=answer, content_type="application/ocsp-response")


async def _revoke(request: web.Request) -> web.Response:
    body = await request.json()
    state = request.app[STATE_KEY]
    state.revoke(_serial(body), body.get("reason"))
    return web.json_response(state.describe())


async def _unknown(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.forget(_serial(await request.json()))
    return web.json_response(state.describe())


async def _settings(request: web.Request) -> web.Response:
    body = await request.json()
    state = request.app[STATE_KEY]
    allowed = {"crl_next_update_s", "crl_this_update_s", "ocsp_next_update_s", "ocsp_signer", "crl_signer"}
    if not isinstance(body, dict) or set(body) - allowed:
        return web.json_response({"error": f"fields: {sorted(allowed)}"}, status=400)
    if body.get("ocsp_signer", "responder") not in ("responder", "ca", "rogue"):
        return web.json_response({"error": "ocsp_signer: responder | ca | rogue"}, status=400)
    if body.get("crl_signer", "ca") not in ("ca", "rogue"):
        return web.json_response({"error": "crl_signer: ca | rogue"}, status=400)
    for name in ("crl_next_update_s", "crl_this_update_s", "ocsp_next_update_s"):
        if name in body:
            setattr(state, name, float(body[name]))
    if "ocsp_signer" in body:
        state.ocsp_signer = str(body["ocsp_signer"])
    if "crl_signer" in body:
        state.crl_signer = str(body["crl_signer"])
    state._crl = None  # the next request gets a list issued with the new dates
    return web.json_response(state.describe())


async def _state(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE_KEY].describe())


def create_app(state: CaState, *, control: Control | None = None) -> web.Application:
    app = application(control or Control("ca"))
    app[STATE_KEY] = state
    app.add_routes(
        [
            web.get(CRL_PATH, _get_crl),
            web.get(CA_PATH, _get_ca),
            web.post(OCSP_PATH, _post_ocsp),
            web.post("/_emulator/ca/revoke", _revoke),
            web.post("/_emulator/ca/unknown", _unknown),
            web.post("/_emulator/ca/settings", _settings),
            web.get("/_emulator/ca/state", _state),
        ]
    )
    return app


def state_from_dir(pki_dir: Path, password: str | None = None) -> CaState:
    """The CA of a PKI directory written by ``TestPKI.write`` (``ca.key.pem``, ``ocsp.key.pem``, ``ca.crl``)."""
    ca = load_signer(pki_dir / "ca.key.pem", pki_dir / "ca.pem", password)
    responder = None
    if (pki_dir / "ocsp.key.pem").is_file():
        responder = load_signer(pki_dir / "ocsp.key.pem", pki_dir / "ocsp.pem", password)
    state = CaState(ca, responder)
    crl_file = pki_dir / "ca.crl"
    if crl_file.is_file():
        from signing.certificates import load_crl

        for serial, at in load_crl(crl_file.read_bytes()).revoked.items():
            state.revoked[serial] = (at, None)
    return state


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m emulators.ca", description="Эмулятор УЦ: список отзыва и OCSP")
    p.add_argument("--pki-dir", required=True, type=Path, help="каталог тестового УЦ (ca.key.pem, ocsp.key.pem)")
    p.add_argument("--password", default=None, help="пароль ключей, если они зашифрованы")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7510)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    state = state_from_dir(args.pki_dir, args.password)
    print(f"УЦ: http://{args.host}:{args.port}{CRL_PATH} (список отзыва), http://{args.host}:{args.port}{OCSP_PATH} (OCSP)")
    web.run_app(create_app(state), host=args.host, port=args.port, access_log=None, print=None)
