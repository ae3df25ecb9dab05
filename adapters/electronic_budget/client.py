"""The GIIS «Электронный бюджет» adapter: SOAP through zeep against the stand-in WSDL.

zeep builds the request envelope and parses replies (faults included); it never
serialises signed XML: the adapter serialises zeep's envelope once, signs ``PackageData``
in those bytes (XMLDSig, SMEV profile) with the submitting organisation's key, and posts
exactly the signed bytes through the transport's httpx client.  The document itself
travels base64 inside ``PackageData``, so nothing can reformat it either.

The WSDL is parsed once per process (in a worker thread: zeep parses synchronously,
python-zeep#1409) and shared by every client (a pre-parsed ``Document``, zeep PR #1330).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import AsyncTransport, Transport
from zeep.wsdl import Document

from adapters.base import Adapter, Outcome, Outgoing, PermanentError, TransientError
from adapters.config import ElectronicBudgetSettings
from adapters.electronic_budget import mapping
from adapters.resilience import Resilience
from signing import xmldsig
from signing.keys import Signer

WSDL_FILE = Path(__file__).resolve().parent / "wsdl" / "social-order-eb.wsdl"
BINDING = "{" + mapping.EB_NS + "}SocialOrderBinding"
TITLE = "«Электронный бюджет»"
SignerFor = Callable[[Outgoing], Signer | None]


def zeep_settings() -> zeep.Settings:
    """No DTDs, no entities, no external resources in anything zeep parses."""
    return zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True, xml_huge_tree=False)


@functools.cache
def load_wsdl(path: str) -> Document:
    """Parse the WSDL and its XSD once per process (local files, no network)."""
    return Document(path, Transport(), settings=zeep_settings())  # type: ignore[arg-type]  # zeep's hint is wrong


class ElectronicBudgetAdapter(Adapter):
    """Submits D1/D2 packages, then reads their processing status."""

    system: ClassVar[str] = "electronic_budget"

    def __init__(self, settings: ElectronicBudgetSettings, *, signer_for: SignerFor | None = None) -> None:
        self.settings = settings
        self.signer_for = signer_for
        self.resilience = Resilience(self.system, settings)
        self._client: zeep.AsyncClient | None = None
        self._service: Any = None
        self._http: httpx.AsyncClient | None = None
        self._wsdl_http: httpx.Client | None = None

    def state(self) -> str:
        """Circuit breaker state, for ``/readyz`` and metrics."""
        return self.resilience.state()

    async def start(self) -> None:
        """Parse the WSDL (off the event loop) and open the HTTP client; :meth:`deliver` calls it lazily."""
        if self._client is not None:
            return
        document = await asyncio.to_thread(load_wsdl, self.settings.wsdl or str(WSDL_FILE))
        timeout = httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s)
        self._http = httpx.AsyncClient(timeout=timeout)
        self._wsdl_http = httpx.Client()  # zeep wants one; the WSDL is already parsed, so it stays unused
        transport = AsyncTransport(client=self._http, wsdl_client=self._wsdl_http)
        self._client = zeep.AsyncClient(wsdl=document, transport=transport, settings=zeep_settings())
        self._service = self._client.create_service(BINDING, self.settings.base_url)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._wsdl_http is not None:
            self._wsdl_http.close()
        self._client = self._service = self._http = self._wsdl_http = None

    # ------------------------------------------------------------------ operations
    async def deliver(self, outgoing: Outgoing) -> Outcome:
        """Submit one D1/D2 package; ``accepted`` with the registration number as ``external_id``."""
        await self.start()
        signer = self.signer_for(outgoing) if (self.signer_for and self.settings.sign_envelope) else None
        data = mapping.package_data(outgoing, signer.certificate if signer else None)
        result = await self.resilience.call(lambda: self._call("SubmitPackage", {"PackageData": data}, signer, data["Id"]))
        detail = mapping.registration(result)
        return Outcome(status="accepted", external_id=detail["registration_number"], detail=detail)

    async def status(self, registration_number: str) -> mapping.ProcessingStatus:
        """The package's processing status (registered, accepted, returned with reasons, published)."""
        await self.start()
        result = await self.resilience.call(
            lambda: self._call("GetStatus", {"RegistrationNumber": registration_number}, None, None),
            attempts=self.settings.read_attempts,
        )
        return mapping.processing_status(result)

    # ------------------------------------------------------------------ SOAP
    def _message(self, operation: str, values: dict[str, Any], signer: Signer | None, sign_id: str | None) -> bytes:
        assert self._client is not None
        envelope = self._client.create_message(self._service, operation, **values)
        raw = bytes(etree.tostring(envelope, encoding="UTF-8", xml_declaration=True))
        if signer is None or sign_id is None:
            return raw
        # The one serialisation of the envelope; the signed bytes are posted as they are.
        return xmldsig.sign_element(raw, sign_id, signer, into="{" + mapping.EB_NS + "}SubmitterSignature")

    async def _call(self, operation: str, values: dict[str, Any], signer: Signer | None, sign_id: str | None) -> Any:
        assert self._client is not None and self._http is not None
        body = self._message(operation, values, signer, sign_id)
        binding = self._service._binding
        op = binding.get(operation)
        headers = {"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": f'"{op.soapaction}"'}
        try:
            response = await self._http.post(self.settings.base_url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise TransientError("timeout", f"{TITLE}: нет ответа за {self.settings.timeout_s:g} с") from None
        except httpx.HTTPError as exc:
            raise TransientError("connection_error", f"{TITLE}: соединение прервано ({type(exc).__name__})") from None
        return self._reply(binding, op, response)

    def _reply(self, binding: Any, op: Any, response: httpx.Response) -> Any:
        status = response.status_code
        content = response.content
        if status == 429:
            raise TransientError(
                "rate_limited", f"{TITLE}: система просит снизить темп обращений (429)", retry_after=_retry_after(response)
            )
        if status == 503:
            raise TransientError("unavailable", f"{TITLE}: система временно недоступна (503)", retry_after=_retry_after(response))
        looks_soap = content.lstrip()[:1] == b"<" and b"Envelope" in content[:512]
        if status >= 500 and not looks_soap:
            raise TransientError("server_error", f"{TITLE}: ошибка на стороне системы (HTTP {status})")
        if status == 408:
            raise TransientError("timeout", f"{TITLE}: система не дождалась запроса (408)")
        if 400 <= status < 500:
            raise PermanentError(f"http_{status}", f"{TITLE}: запрос отклонён (HTTP {status})")
        assert self._client is not None
        try:
            return binding.process_reply(self._client, op, self._client.transport.new_response(response))
        except zeep.exceptions.Fault as fault:
            code, message = _fault_detail(fault)
            raise mapping.fault_error(code, message, server=(fault.code or "").endswith("Server")) from None
        except (zeep.exceptions.Error, etree.LxmlError, ValueError, AttributeError):
            raise TransientError("malformed_reply", f"{TITLE}: ответ не разобран (HTTP {status})") from None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _fault_detail(fault: zeep.exceptions.Fault) -> tuple[str | None, str | None]:
    detail = fault.detail
    if detail is None:
        return None, fault.message
    ns = "{" + mapping.EB_NS + "}"
    error = detail.find(ns + "Error")
    if error is None:
        return None, fault.message
    return error.findtext(ns + "Code"), error.findtext(ns + "Message") or fault.message
