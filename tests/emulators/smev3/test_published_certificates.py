"""The SMEV emulator publishes the certificates a gateway pins (ЭП-СМЭВ, EPGU's ЭП-ОВ), and signs only with them
unless a test asks it to play a man in the middle."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from adapters.gosuslugi import mapping
from adapters.gosuslugi.config import EPGU_EMULATOR_MNEMONIC
from adapters.gosuslugi.faults import SmevSignatureError
from adapters.gosuslugi.messages import Trust
from adapters.gosuslugi.pins import Pins
from emulators.smev3 import epgu
from signing.certificates import load_certificates
from signing.test_pki import TestPKI
from tests.support.net import free_port
from tests.support.smev import Emulator, MakeClient

REPO = Path(__file__).resolve().parents[3]


def _sha(pem: bytes) -> str:
    (cert,) = load_certificates(pem)
    return hashlib.sha256(cert.der).hexdigest()


def test_the_epgu_mnemonic_is_written_twice_on_purpose() -> None:
    assert epgu.MNEMONIC == EPGU_EMULATOR_MNEMONIC  # adapters may not import emulators


async def test_certificates_and_pins_are_published(emulator: Emulator, smev_pki: TestPKI) -> None:
    async with aiohttp.ClientSession() as s:
        smev_pem = await (await s.get(emulator.url + "/_emulator/smev/certificate.pem")).read()
        epgu_pem = await (await s.get(emulator.url + "/_emulator/epgu/certificate.pem")).read()
        pins = await (await s.get(emulator.url + "/_emulator/smev/pins")).json()
    assert smev_pem == smev_pki.certificate("smev").pem and epgu_pem == smev_pki.certificate("epgu").pem
    assert pins["smev"]["sha256"] == [_sha(smev_pem)]
    assert pins["senders"]["epgu"]["sha256"] == [_sha(epgu_pem)] and pins["senders"]["epgu"]["mnemonics"] == ["EPGU_EMU"]


async def test_a_forged_smev_signature_is_told_apart_only_by_the_pin(emulator: Emulator, make_client: MakeClient,
                                                                     smev_pki: TestPKI) -> None:  # fmt: skip
    client = await make_client()  # trusts the CA, pins nothing: the adapter as a protocol tool
    client.trust = Trust([smev_pki.ca.certificate], [smev_pki.crl], Pins.of(certificates=[smev_pki.certificate("smev")]))
    emulator.smev.inject("1.3", [{}], 1)
    emulator.smev.forge_smev_signature(smev_pki.signer("authorized_body"), count=1)
    with pytest.raises(SmevSignatureError) as caught:
        await client.get_request(mapping.selector())
    assert caught.value.code == "smev_signature_unexpected_signer"
    assert caught.value.message_id == next(iter(emulator.smev.queues.archive))
    emulator.smev.queues.archive[caught.value.message_id].visible_at = 0  # offered again at once
    request = await client.get_request(mapping.selector())  # the count is spent: SMEV's own key again
    assert request is not None and request.message_id == caught.value.message_id


def test_standalone_emulator_writes_the_certificates_to_pin(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "emulators.smev3", "--port", str(port), "--trust", str(tmp_path / "none.pem"),
                             "--write-certificates", str(tmp_path / "pki")], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "pki" / "epgu.pem").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        assert load_certificates((tmp_path / "pki" / "smev.pem").read_bytes())
        assert load_certificates((tmp_path / "pki" / "epgu.pem").read_bytes())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
