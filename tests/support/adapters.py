"""Shared pieces of the adapter ↔ emulator integration tests: documents, the test PKI, control calls.

Every emulator runs for real on a loopback port (pytest-aiohttp's ``aiohttp_server``); the
adapters talk HTTP to it and the tests steer it through its ``/_emulator/`` control API.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adapters.base import Outgoing, PermanentError, TransientError
from gateway.core.settings import Settings
from gateway.documents.xml_form import render
from gateway.municipalities.loader import load_profiles
from gateway.workflow.examples import example_payload
from signing.test_pki import TestPKI, create_test_pki

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="session")
def pki() -> TestPKI:
    return create_test_pki()


@pytest.fixture(scope="session")
def profiles() -> dict[str, Any]:
    return load_profiles(Settings().municipalities_dir)


def make_outgoing(
    profiles: dict[str, Any], doc_type: str, system: str, municipality: str = "livny", **metadata: str
) -> Outgoing:
    """A document as the transport would hand it over: canonical XML + JSON payload."""
    payload = example_payload(doc_type, profiles[municipality], TODAY)
    document_id = str(uuid.uuid4())
    xml = render(doc_type, payload, document_id=document_id, municipality=municipality)
    return Outgoing(
        message_id=str(uuid.uuid4()), document_id=document_id, doc_type=doc_type, municipality=municipality,
        system=system, xml=xml, payload=payload, metadata=metadata,
    )  # fmt: skip


@pytest.fixture
def outgoing(profiles: dict[str, Any]) -> Callable[..., Outgoing]:
    def make(doc_type: str, system: str, municipality: str = "livny", **metadata: str) -> Outgoing:
        return make_outgoing(profiles, doc_type, system, municipality, **metadata)

    return make


async def control(server: TestServer, method: str, path: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, server.make_url(path), json=body) as resp:
            assert resp.status < 300, await resp.text()
            return await resp.json()


async def set_faults(server: TestServer, **faults: Any) -> None:
    await control(server, "POST", "/_emulator/faults", faults)


async def clear_faults(server: TestServer) -> None:
    await control(server, "DELETE", "/_emulator/faults")


async def received(server: TestServer) -> dict[str, Any]:
    body: dict[str, Any] = await control(server, "GET", "/_emulator/received")
    return body


# The transient faults every adapter must turn into TransientError, with the code it should carry.
TRANSIENT_FAULTS: list[tuple[dict[str, Any], set[str]]] = [
    ({"latency_ms": 900}, {"timeout"}),
    ({"status": 500}, {"server_error"}),
    ({"status": 502}, {"server_error"}),
    ({"reset": True}, {"connection_error"}),
    ({"malformed": True}, {"malformed_reply"}),
    ({"status": 429}, {"rate_limited"}),
    ({"unavailable_for_s": 0.4}, {"unavailable"}),
]
FAULT_IDS = ["latency", "5xx", "502", "reset", "malformed", "429", "unavailable"]


def assert_transient(exc: BaseException, codes: set[str]) -> None:
    assert isinstance(exc, TransientError), repr(exc)
    assert exc.code in codes, exc.code
    if exc.code == "rate_limited":
        assert exc.retry_after is not None


def assert_permanent(exc: BaseException, code: str) -> None:
    assert isinstance(exc, PermanentError), repr(exc)
    assert exc.code == code, (exc.code, exc.detail)
