"""Whose signatures an EPGU application may carry: SMEV's pinned key, and the key of the system SMEV's routing names.

Every participant holds a certificate of the trusted CA, so a valid chain is not enough.  An
application whose content was changed and signed again with other participants' keys (the
SMEV part with another organisation's, the sender part with a provider's) goes through the
running poller and intake against the strict SMEV emulator: it never becomes a document, its
refusal is journaled with codes and fingerprints only, and what SMEV must offer again is not
acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.gosuslugi import mapping
from adapters.gosuslugi.faults import SmevSignatureError
from adapters.gosuslugi.pins import fingerprint
from gateway.core.keyring import KeyRing
from gateway.core.settings import Settings
from gateway.features.epgu.cli import sample_applications
from gateway.municipalities import load_profiles
from gateway.systems.smev import build_client, pins_for, smev_problems, startup_problems
from signing.test_pki import TestPKI
from tests.support.epgu_stack import EpguStack, gateway_settings, install_keys
from tests.support.smev import Emulator

Stack = Callable[..., Awaitable[EpguStack]]
SECRETS = ("Подделкинов", "Фальшимир", "Ложнофамильева", "9990001122")
CHILD = {"last_name": SECRETS[0], "first_name": SECRETS[1]}
APPLICANT = {"last_name": SECRETS[2], "phone": "+7" + SECRETS[3]}


async def _true(value: bool) -> bool:
    return value


def _ack(stack: EpguStack, mid: str) -> dict[str, Any] | None:
    received = stack.emulator.smev.control.received.get("ack:" + mid)
    return None if received is None else {"count": received.count, "accepted": received.info.get("accepted")}


def _forge_content(stack: EpguStack, sent: dict[str, str], signer: Any) -> None:
    """Another order number, and the sender part signed again with ``signer``'s key."""
    order = sent["order_id"].encode()
    stack.emulator.smev.tamper_request(sent["message_id"], order, b"9" + order[1:], signer)


def _no_personal_data(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


async def test_smev_part_signed_by_another_participant_is_refused_and_left_in_smev(
    epgu_stack: Stack, smev_pki: TestPKI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack = await epgu_stack(poller=False)
    (sent,) = await stack.inject_for("luga", 1, child=CHILD, applicant=APPLICANT)
    mid = sent["message_id"]
    smev = stack.emulator.smev
    _forge_content(stack, sent, smev_pki.signer("provider"))
    smev.forge_smev_signature(smev_pki.signer("finance"), count=None)  # both keys chain to the trusted CA
    stack.start_poller()

    async def refused_twice() -> bool:
        return smev.queues.archive[mid].deliveries >= 2 and len(await stack.events("smev_message_refused")) == 1

    await stack.wait(refused_twice, what="the forged message offered twice and journaled")
    (event,) = await stack.events("smev_message_refused")
    assert event["details"] == {
        "code": "smev_signature_unexpected_signer", "smev_message_id": mid, "message_id_verified": False,
        "signer_sha256": fingerprint(smev_pki.certificate("finance")),
    }  # fmt: skip
    assert event["actor"] == "system:smev" and event["document_id"] is None
    assert _ack(stack, mid) is None  # not acknowledged: SMEV keeps it until it arrives with SMEV's own signature
    assert await stack.documents_of("consumer_application") == [] and await stack.applications() == []
    assert "smev_signature_unexpected_signer" in caplog.text

    # SMEV's own signature again: now the sender part, signed by the provider, is what refuses it.
    smev.forge_smev_signature(None)
    await stack.wait(lambda: _true(_ack(stack, mid) is not None), what="the refusal acknowledged")
    assert _ack(stack, mid) == {"count": 1, "accepted": False}
    (refused,) = await stack.events("epgu_application_refused")
    assert refused["details"]["codes"][0] == "sender_not_authorized"
    assert refused["details"]["signer_sha256"] == fingerprint(smev_pki.certificate("provider"))
    assert await stack.documents_of("consumer_application") == []
    assert (await stack.statuses())["total"] == 0  # no status to a sender we could not authenticate
    assert len(await stack.events("smev_message_refused")) == 1  # journaled once, however often offered
    _no_personal_data(caplog.text + str(await stack.events("smev_message_refused", "epgu_application_refused")))


async def test_sender_part_signed_by_a_provider_is_refused_beside_a_genuine_application(
    epgu_stack: Stack, smev_pki: TestPKI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack = await epgu_stack(poller=False)
    (forged,) = await stack.inject_for("luga", 1, child=CHILD, applicant=APPLICANT)
    (good,) = await stack.inject_for("luga", 1)
    _forge_content(stack, forged, smev_pki.signer("provider"))
    stack.start_poller()
    got = await stack.wait_statuses(1)
    await stack.wait(lambda: _true(not list(stack.emulator.smev.queues.pending())), what="both acknowledged")
    assert [s["original_message_id"] for s in got["items"]] == [good["message_id"]]
    assert [d["number"] for d in await stack.documents_of("consumer_application")] == [good["order_id"]]
    assert _ack(stack, forged["message_id"]) == {"count": 1, "accepted": False}
    assert _ack(stack, good["message_id"]) == {"count": 1, "accepted": True}
    (refused,) = await stack.events("epgu_application_refused")
    details = refused["details"]
    assert details["smev_message_id"] == forged["message_id"] and details["sender"] == "EPGU_EMU"
    assert details["codes"] == ["sender_not_authorized"]
    assert details["signer_sha256"] == fingerprint(smev_pki.certificate("provider"))
    assert refused["document_id"] is None
    origin = {a["message_id"]: a for a in await stack.applications()}[forged["message_id"]]
    assert origin["outcome"] == "refused" and origin["reason_code"] == "sender_not_authorized" and origin["reply_to"] is None
    assert await stack.events("smev_message_refused") == []  # SMEV's part was genuine
    _no_personal_data(caplog.text + str(refused))


async def test_epgu_signature_on_a_message_the_routing_says_another_system_sent(epgu_stack: Stack) -> None:
    """The sender's key must be the key of the system SMEV names, not just any pinned key."""
    stack = await epgu_stack(poller=False)
    (sent,) = await stack.inject_for("luga", 1)
    stack.emulator.smev.queues.archive[sent["message_id"]].sender = "OTHER_IS01"
    stack.start_poller()
    await stack.wait(lambda: _true(_ack(stack, sent["message_id"]) is not None), what="the refusal acknowledged")
    assert _ack(stack, sent["message_id"]) == {"count": 1, "accepted": False}
    (refused,) = await stack.events("epgu_application_refused")
    assert refused["details"]["codes"] == ["sender_not_authorized"] and refused["details"]["sender"] == "OTHER_IS01"
    assert await stack.documents_of("consumer_application") == []


async def test_pins_overlap_while_a_key_is_rotated(emulator: Emulator, smev_pki: TestPKI, epgu_pki_dir: Path, tmp_path: Path) -> None:
    """Old and new certificate pinned together: both accepted; the old one alone refuses the new key."""
    install_keys(epgu_pki_dir, tmp_path / "var")
    old, smev, epgu = (fingerprint(smev_pki.certificate(r)) for r in ("finance", "smev", "epgu"))
    for overlap in ([old, smev], [smev]):
        settings = gateway_settings(tmp_path, emulator, smev_certificate_sha256=overlap,
                                    epgu={"mnemonics": ["EPGU_EMU"], "certificate_sha256": [old, epgu]})  # fmt: skip
        emulator.smev.inject("1.3", [_luga()], 1)
        client = await build_client(settings, KeyRing(settings.effective_keys_file, settings.effective_pki_dir))
        try:
            request = await client.get_request(mapping.selector())
            assert request is not None and request.sender_signature is not None and request.sender_signature.ok
            await client.ack(request.message_id)
        finally:
            await client.close()
    settings = gateway_settings(tmp_path, emulator, smev_certificate_sha256=[old])
    emulator.smev.inject("1.3", [_luga()], 1)
    client = await build_client(settings, KeyRing(settings.effective_keys_file, settings.effective_pki_dir))
    try:
        with pytest.raises(SmevSignatureError) as caught:
            await client.get_request(mapping.selector())
        assert caught.value.code == "smev_signature_unexpected_signer"
        assert caught.value.signer_sha256 == smev
    finally:
        await client.close()


def _luga() -> dict[str, Any]:
    (app,) = sample_applications(load_profiles(Settings().municipalities_dir)["luga"], 1)
    return app


async def test_an_emulator_publishes_what_the_gateway_pins(emulator: Emulator, smev_pki: TestPKI, tmp_path: Path) -> None:
    """Declared emulated, the gateway takes its pins from the SMEV emulator; nothing to configure."""
    settings = Settings(data_dir=tmp_path / "var", run_emulators=False, systems={"emulated": True},
                        smev={"url": emulator.endpoint("1.3")})  # fmt: skip
    assert startup_problems(settings) == [] and smev_problems(settings) == []
    pins = await pins_for(settings)
    assert pins.smev.sha256 == {fingerprint(smev_pki.certificate("smev"))}
    assert {m: p.sha256 for m, p in pins.by_mnemonic().items()} == {"EPGU_EMU": {fingerprint(smev_pki.certificate("epgu"))}}


async def test_the_poller_does_not_start_without_a_smev_pin(epgu_stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """A real SMEV (not declared an emulator) and no pin anywhere: nothing is fetched, the reason is logged."""
    stack = await epgu_stack(poller=False)
    (sent,) = await stack.inject_for("luga", 1)
    (stack.ctx.settings.effective_pki_dir / "smev.pem").unlink()
    stack.start_poller()
    assert stack.task is not None
    await asyncio.wait_for(stack.task, 10)  # gives up at once instead of polling
    assert "smev_pin_missing" in caplog.text and "GATEWAY_SMEV__SMEV_CERTIFICATE_SHA256" in caplog.text
    assert stack.emulator.smev.queues.archive[sent["message_id"]].deliveries == 0
