"""The SMEV 3 emulator on its own: official WSDL/XSD, strict refusals, signed answers an
independent implementation (the OpenSSL command line) verifies, queues and control plane."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from lxml import etree

from adapters.gosuslugi import envelope
from emulators.smev3 import protocol
from emulators.smev3.faults import SmevFault, fault_envelope
from signing.gost_engine import load_engine, openssl_env
from signing.smev_transform import transform_element
from signing.test_pki import TestPKI
from tests.support.smev import Emulator, MakeClient

REPO = Path(__file__).resolve().parents[3]
# The official schemas as published in the conformance kit kept beside the repository
# (GATEWAY_CONFORMANCE_DIR overrides where); only the comparison with them needs the kit.
CONFORMANCE = Path(os.environ.get("GATEWAY_CONFORMANCE_DIR") or REPO.parent / "shared" / "conformance") / "smev3-schemas"
VERSIONS = ("1.1", "1.3")
DS = "{http://www.w3.org/2000/09/xmldsig#}"
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"


async def post(emulator: Emulator, version: str, body: bytes) -> tuple[int, etree._Element]:
    async with aiohttp.ClientSession() as s:
        r = await s.post(emulator.endpoint(version), data=body, headers={"Content-Type": "text/xml; charset=utf-8"})
        return r.status, etree.fromstring(await r.read())


def fault_of(root: etree._Element) -> tuple[str, str | None]:
    detail = root.find(f"{SOAP}Body/{SOAP}Fault/detail")
    assert detail is not None
    el = detail[0]
    return etree.QName(el).localname, el.findtext("{*}SignatureVerificationFault")


def test_emulator_and_adapter_carry_the_same_official_schemas() -> None:
    for version in VERSIONS:
        ours = sorted(f.name for f in (protocol.SCHEMAS / version).iterdir())
        assert ours and ours == sorted(f.name for f in (REPO / "adapters/gosuslugi/wsdl" / version).iterdir())
        for name in ours:
            assert (protocol.SCHEMAS / version / name).read_bytes() == (REPO / "adapters/gosuslugi/wsdl" / version / name).read_bytes()


def test_schemas_are_the_official_ones() -> None:
    if not all((CONFORMANCE / version).is_dir() for version in VERSIONS):
        pytest.skip(f"официальные схемы СМЭВ 3 (conformance) не найдены рядом с репозиторием: {CONFORMANCE} (GATEWAY_CONFORMANCE_DIR)")
    for version in VERSIONS:
        for f in (CONFORMANCE / version).iterdir():
            assert (protocol.SCHEMAS / version / f.name).read_bytes() == f.read_bytes()
            assert (REPO / "adapters/gosuslugi/wsdl" / version / f.name).read_bytes() == f.read_bytes()


async def test_serves_the_official_wsdl_which_zeep_loads(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as s:
        r = await s.get(emulator.endpoint("1.3") + "?wsdl")
        wsdl = await r.read()
        assert r.status == 200 and b"SMEVMessageExchangeService" in wsdl and emulator.endpoint("1.3").encode() in wsdl
        assert (await s.get(emulator.endpoint("1.1") + "?xsd=smev-message-exchange-types-1.1.xsd")).status == 200
        assert (await s.get(emulator.endpoint("1.1") + "?xsd=../../secret")).status == 404

    def load() -> list[str]:
        from zeep import Client

        return sorted(Client(emulator.endpoint("1.3") + "?wsdl").service._binding._operations)

    assert await asyncio.to_thread(load) == ["Ack", "GetRequest", "GetResponse", "GetStatus", "SendRequest", "SendResponse"]


@pytest.mark.parametrize("version", ["1.1", "1.3"])
async def test_malformed_envelopes_are_refused_by_the_official_xsd(version: str, emulator: Emulator, smev_pki: TestPKI) -> None:
    v = envelope.version(version)
    env = envelope.send_request(v, envelope.new_message_id(), b'<e:X xmlns:e="urn:e"/>')
    data = env.find(f".//{v.t('SenderProvidedRequestData')}")
    assert data is not None
    data.insert(0, etree.Element(v.t("Unexpected")))
    status, root = await post(emulator, version, envelope.sign(env, smev_pki.signer("gateway")))
    assert status == 500 and fault_of(root)[0] == "InvalidContent"
    assert root.find(".//{*}ValidationError") is not None
    no_id = envelope.send_request(v, "not-a-uuid", b'<e:X xmlns:e="urn:e"/>')
    status, root = await post(emulator, version, envelope.sign(no_id, smev_pki.signer("gateway")))
    assert fault_of(root)[0] == "InvalidContent"  # the XSD pattern of basic:UUID
    headerless = envelope.sign(envelope.get_request(v), smev_pki.signer("gateway")).replace(b"<soap:Header/>", b"")
    assert fault_of((await post(emulator, version, headerless))[1]) == ("SignatureVerificationFault", "PoorSOAPEnvelopeFormat")
    assert fault_of((await post(emulator, version, b"not xml at all"))[1])[0] == "InvalidContent"


@pytest.mark.parametrize("version", ["1.1", "1.3"])
def test_fault_envelopes_validate_against_the_official_faults_xsd(version: str) -> None:
    faults = protocol.envelope_schema(version)
    for fault in (SmevFault("SignatureVerificationFault", "x", signature_fault="NoSignatureFound"),
                  SmevFault("InvalidContent", "x", validation_errors=["e"]), SmevFault("MessageIsAlreadySent", "x"),
                  SmevFault("BusinessDataTypeIsNotSupported", "x", extra=[("RootElementLocalName", "a"), ("RootElementNamespaceURI", "b")])):  # fmt: skip
        detail = etree.fromstring(fault_envelope(version, fault)).find(f"{SOAP}Body/{SOAP}Fault/detail")
        assert detail is not None and faults.validate(detail[0]), faults.error_log


@pytest.mark.parametrize("version", ["1.1", "1.3"])
async def test_answers_validate_against_the_official_xsd(version: str, emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client(version)
    emulator.smev.inject(version, [], 1)
    ops: list[etree._Element] = []
    xml, root = await smev.exchange("GetRequest", envelope.sign(envelope.get_request(smev.v), smev.signer))
    ops.append(root.find(f"{SOAP}Body")[0])  # type: ignore[index]
    request = await smev.get_request() or None
    assert request is None  # invisible until the redelivery delay
    bad = b'<a:ApplicationRequest xmlns:a="urn://x-social-order-gateway/stand-in/epgu/dop-enrolment/1.0.0"/>'
    emulator.smev.routes[("urn://x-social-order-gateway/stand-in/epgu/dop-enrolment/1.0.0", "ApplicationRequest")] = "ELSEWHERE"
    xml, root = await smev.exchange("SendRequest", envelope.sign(envelope.send_request(smev.v, envelope.new_message_id(), bad), smev.signer))
    ops.append(root.find(f"{SOAP}Body")[0])  # type: ignore[index]
    xml, root = await smev.exchange("GetResponse", envelope.sign(envelope.get_response(smev.v), smev.signer))
    ops.append(root.find(f"{SOAP}Body")[0])  # type: ignore[index]
    xml, root = await smev.exchange("GetStatus", envelope.sign(envelope.get_status(smev.v), smev.signer))
    ops.append(root.find(f"{SOAP}Body")[0])  # type: ignore[index]
    assert [etree.QName(o).localname for o in ops] == ["GetRequestResponse", "SendRequestResponse", "GetResponseResponse", "GetStatusResponse"]
    for op in ops:
        assert len(op) and protocol.validate(version, op) == [], etree.QName(op).localname


def _openssl(args: list[str | Path]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, env=openssl_env(), timeout=60, check=False)


async def test_smev_signature_verifies_with_the_openssl_command_line(
    emulator: Emulator, make_client: MakeClient, smev_pki: TestPKI, tmp_path: Path
) -> None:
    if load_engine() is None or shutil.which("openssl") is None:
        pytest.skip("нет openssl с движком GOST")
    smev = await make_client("1.3")
    emulator.smev.inject("1.3", [], 1)
    xml, root = await smev.exchange("GetRequest", envelope.sign(envelope.get_request(smev.v), smev.signer))
    wrapper = root.find(f".//{smev.v.t('SMEVSignature')}")
    assert wrapper is not None
    sig = wrapper.find(f"{DS}Signature")
    assert sig is not None
    (tmp_path / "si.xml").write_bytes(etree.tostring(sig.find(f"{DS}SignedInfo"), method="c14n", exclusive=True, with_comments=False))  # type: ignore[arg-type]
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(sig.findtext(f"{DS}SignatureValue") or ""))
    (tmp_path / "smev.pem").write_bytes(smev_pki.certificate("smev").pem)
    pub = _openssl(["x509", "-in", tmp_path / "smev.pem", "-pubkey", "-noout"])
    (tmp_path / "pub.pem").write_bytes(pub.stdout)
    out = _openssl(["dgst", "-md_gost12_256", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig.bin", tmp_path / "si.xml"])
    assert b"Verified OK" in out.stdout, out.stderr
    request = root.find(f".//{smev.v.t('Request')}")
    assert request is not None and request.get("Id") == "SIGNED_BY_SMEV"
    (tmp_path / "t.xml").write_bytes(transform_element(request))
    digest = _openssl(["dgst", "-md_gost12_256", "-binary", tmp_path / "t.xml"]).stdout
    assert base64.b64encode(digest).decode() == sig.findtext(f"{DS}SignedInfo/{DS}Reference/{DS}DigestValue")
    # and a flipped bit is noticed by OpenSSL too
    (tmp_path / "sig.bin").write_bytes(bytes([sig_b ^ (1 if i == 0 else 0) for i, sig_b in enumerate((tmp_path / "sig.bin").read_bytes())]))
    bad = _openssl(["dgst", "-md_gost12_256", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig.bin", tmp_path / "si.xml"])
    assert b"Verified OK" not in bad.stdout


async def test_queue_ack_redelivery_and_control_plane(emulator: Emulator, make_client: MakeClient) -> None:
    smev = await make_client("1.3")
    async with aiohttp.ClientSession() as s:
        sent = (await (await s.post(emulator.url + "/_emulator/epgu/applications", json={"count": 2})).json())["sent"]
        queued = (await (await s.get(emulator.url + "/_emulator/smev/queues")).json())["pending"]
        assert [q["message_id"] for q in queued] == [x["message_id"] for x in sent]
        first = await smev.get_request()
        second = await smev.get_request()
        assert first and second and await smev.get_request() is None
        await smev.ack(first.message_id)
        await asyncio.sleep(0.35)
        again = await smev.get_request()
        assert again is not None and again.message_id == second.message_id  # not acked: delivered again
        await smev.ack(again.message_id)
        assert (await (await s.get(emulator.url + "/_emulator/smev/queues")).json())["pending"] == []
        ca = await (await s.get(emulator.url + "/_emulator/smev/ca.pem")).read()
        assert b"BEGIN CERTIFICATE" in ca
        assert (await s.post(emulator.url + "/_emulator/smev/corrupt", json={"mode": "nonsense"})).status == 400
        r = await s.post(emulator.url + "/_emulator/epgu/applications", json={"count": 1, "version": "2.0"})
        assert r.status == 400


def test_standalone_runner_starts_and_serves_the_wsdl(tmp_path: Path, smev_pki: TestPKI) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "ca.pem").write_bytes(smev_pki.ca.certificate.pem)
    proc = subprocess.Popen([sys.executable, "-m", "emulators.smev3", "--port", str(port), "--trust", str(tmp_path / "ca.pem"),
                             "--write-ca", str(tmp_path / "smev-ca.pem")], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().decode(), proc.stdout.readline().decode()]
        assert lines[1].startswith("smev 1.3: http://127.0.0.1:") and "/transport_1_0_2/" in lines[1]
        import time
        import urllib.request

        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/transport_1_0_1/?wsdl", timeout=2) as r:
                    assert b"transport_1_0_1" in r.read()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("эмулятор не запустился")
        assert b"BEGIN CERTIFICATE" in (tmp_path / "smev-ca.pem").read_bytes()
    finally:
        proc.terminate()
        proc.wait(10)


def test_own_identity_is_issued_reliably() -> None:
    from emulators.smev3.keys import generate_identity

    for _ in range(20):
        ident = generate_identity()
        assert ident.ca is not None and ident.smev.certificate.issuer_der == ident.ca.subject_der
