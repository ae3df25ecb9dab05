"""The gateway refuses to start on settings meant for the emulators, or without SMEV pins, and names what to set.

Without emulators of its own (``GATEWAY_RUN_EMULATORS=false``) and not declared emulated, any
address or secret still at an emulator's default, SMEV without a pinned certificate, and an
emulator port taken by another process each stop ``gateway serve`` / ``gateway worker`` with a
Russian message, the ``GATEWAY_*`` variable to set and a stable code.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.config import SystemsSettings, emulator_defaults
from adapters.gosuslugi.config import SmevConfig
from emulators import runner
from gateway.core.settings import Settings
from gateway.systems.smev import smev_problems, startup_problems
from signing.test_pki import TestPKI
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
FINGERPRINT = "ab" * 32
REAL = {  # what an operator sets, by the end of the variable each problem names
    "BASE_URL": "https://state-system.example.ru/api",
    "URL": "https://smev3-n0.test.gosuslugi.ru:5000/transport_1_0_2/",
    "CLIENT_SECRET": "a-secret-of-the-region",
    "API_KEY": "a-key-of-the-region",
    "MNEMONICS": '["MNSV05"]',
    "SMEV_CERTIFICATE_SHA256": f'["{FINGERPRINT}"]',
    "CERTIFICATE_SHA256": f'["{"cd" * 32}"]',
}


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("GATEWAY_") and not key.startswith("GATEWAY_TEST_"):
            monkeypatch.delenv(key)


def test_every_emulator_default_is_listed_with_its_variable() -> None:
    found = {(p.code, p.setting) for p in emulator_defaults(SystemsSettings())}
    assert found == {
        ("emulator_default_address", "GATEWAY_SYSTEMS__ELECTRONIC_BUDGET__BASE_URL"),
        ("emulator_default_address", "GATEWAY_SYSTEMS__BUDGET_PORTAL__BASE_URL"),
        ("emulator_default_address", "GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL"),
        ("emulator_default_address", "GATEWAY_SYSTEMS__EAIS__BASE_URL"),
        ("emulator_default_secret", "GATEWAY_SYSTEMS__NAVIGATOR__CLIENT_SECRET"),
        ("emulator_default_secret", "GATEWAY_SYSTEMS__EAIS__API_KEY"),
    }
    assert {(p.code, p.setting) for p in SmevConfig().emulator_defaults()} == {
        ("emulator_default_address", "GATEWAY_SMEV__URL"),
        ("emulator_default_mnemonic", "GATEWAY_SMEV__EPGU__MNEMONICS"),
    }
    # the same emulator spelled another way is still the emulator; another port is not
    other = SystemsSettings(navigator={"base_url": "http://localhost:8094/", "client_secret": "x"},
                            eais={"base_url": "http://127.0.0.1:18095", "api_key": "y"})  # fmt: skip
    assert {p.setting for p in emulator_defaults(other)} >= {"GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL"}
    assert "GATEWAY_SYSTEMS__EAIS__BASE_URL" not in {p.setting for p in emulator_defaults(other)}
    assert all(str(p).endswith(f"задайте {p.setting} ({p.code})") for p in emulator_defaults(SystemsSettings()))


def test_setting_each_named_variable_clears_its_problem(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GATEWAY_RUN_EMULATORS", "false")
    problems = startup_problems(Settings())
    codes = {p.code for p in problems}
    assert {"emulator_default_address", "emulator_default_secret", "smev_pin_missing", "smev_sender_pin_missing"} <= codes
    for _ in range(20):
        problems = startup_problems(Settings())
        if not problems:
            break
        problem = problems[0]
        value = next(v for suffix, v in REAL.items() if problem.setting.endswith("__" + suffix))
        monkeypatch.setenv(problem.setting, value)
        assert problem not in startup_problems(Settings()), problem
    assert startup_problems(Settings()) == []
    assert Settings().smev.epgu.mnemonics == ["MNSV05"] and Settings().smev.smev_certificate_sha256 == [FINGERPRINT]


def test_the_embedded_demo_and_emulated_systems_start(tmp_path: Path) -> None:
    assert startup_problems(Settings(data_dir=tmp_path)) == []  # gateway serve starts the emulators itself
    emulated = Settings(data_dir=tmp_path, run_emulators=False, systems={"emulated": True},
                        smev={"url": "http://emulators:7500/transport_1_0_2/"})  # fmt: skip
    assert startup_problems(emulated) == []  # pins come from the SMEV emulator when the client is built
    # a real SMEV beside the emulated others still needs its pin
    real_smev = Settings(data_dir=tmp_path, smev={"url": "https://smev3.example.ru/transport_1_0_2/"})
    assert {p.code for p in startup_problems(real_smev)} == {"smev_pin_missing", "smev_sender_pin_missing"}


def test_pin_files_beside_the_ca(tmp_path: Path, pki: TestPKI) -> None:
    settings = Settings(data_dir=tmp_path, run_emulators=False, smev={"url": "https://smev3.example.ru/ws"})
    pki_dir = settings.effective_pki_dir
    pki_dir.mkdir(parents=True)
    assert {p.code for p in smev_problems(settings)} == {"smev_pin_missing", "smev_sender_pin_missing"}
    (pki_dir / "smev.pem").write_bytes(pki.certificate("gateway").pem + pki.certificate("finance").pem)  # rotation: two
    (pki_dir / "epgu.pem").write_bytes(pki.certificate("provider").pem)
    assert smev_problems(settings) == []
    (pki_dir / "smev.pem").write_bytes(b"not a certificate")
    (problem,) = smev_problems(settings)
    assert problem.code == "smev_pin_unreadable"


def _process_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_") or k.startswith("GATEWAY_TEST_")}
    return {**env, "GATEWAY_DATA_DIR": str(tmp_path / "var"), "GATEWAY_LOG_LEVEL": "WARNING", **extra}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize("command", [["serve", "--port"], ["worker"]])
def test_serve_and_worker_refuse_to_start_on_emulator_defaults(command: list[str], tmp_path: Path) -> None:
    port = free_port()
    args = [*command, str(port)] if command[-1] == "--port" else command
    done = _run(args, _process_env(tmp_path, GATEWAY_RUN_EMULATORS="false"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Шлюз не запущен" in done.stderr and "(startup_refused)" in done.stderr
    for variable in ("GATEWAY_SYSTEMS__NAVIGATOR__CLIENT_SECRET", "GATEWAY_SYSTEMS__EAIS__BASE_URL", "GATEWAY_SMEV__URL",
                     "GATEWAY_SMEV__SMEV_CERTIFICATE_SHA256", "GATEWAY_SMEV__EPGU__CERTIFICATE_SHA256"):  # fmt: skip
        assert variable in done.stderr, (variable, done.stderr)
    assert "navigator-emulator-secret" not in done.stdout + done.stderr  # the secret itself is never printed
    assert not (tmp_path / "var" / "gateway.sqlite3").exists()  # refused before anything was opened


def test_worker_without_epgu_needs_no_smev_pin(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, run_emulators=False, smev={"url": "https://smev3.example.ru/ws"})
    problems = startup_problems(settings, smev=False)
    assert {p.code for p in problems} == {"emulator_default_address", "emulator_default_secret"}
    assert not any(p.setting.startswith("GATEWAY_SMEV__") for p in problems)


async def test_the_runner_stops_at_a_taken_port_and_leaves_nothing_running(pki: TestPKI, tmp_path: Path) -> None:
    ports = {name: free_port() for name in runner.REGISTRY}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["eais"]))  # the last one: the others are started first
        taken.listen()
        with pytest.raises(runner.PortUnavailable) as caught:
            await runner.start(runner.RunConfig(ports=ports, navigator_certificates=10))
    assert (caught.value.name, caught.value.port) == ("eais", ports["eais"])
    for name in ("smev", "navigator"):  # started before the failure, stopped again
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", ports[name])) != 0, name


def test_serve_fails_when_an_emulator_port_is_taken(tmp_path: Path) -> None:
    smev, eb, portal, nav, eais, api = (free_port() for _ in range(6))
    env = _process_env(
        tmp_path,
        GATEWAY_SMEV__URL=f"http://127.0.0.1:{smev}/transport_1_0_2/",
        GATEWAY_SYSTEMS__ELECTRONIC_BUDGET__BASE_URL=f"http://127.0.0.1:{eb}/eb/social-order/v1",
        GATEWAY_SYSTEMS__BUDGET_PORTAL__BASE_URL=f"http://127.0.0.1:{portal}",
        GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL=f"http://127.0.0.1:{nav}",
        GATEWAY_SYSTEMS__EAIS__BASE_URL=f"http://127.0.0.1:{eais}",
        GATEWAY_EMULATOR_CERTIFICATES="10",
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", smev))
        taken.listen()
        done = _run(["serve", "--port", str(api)], env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "emulator_port_in_use" in done.stderr and f"127.0.0.1:{smev}" in done.stderr
    assert "GATEWAY_SMEV__URL" in done.stderr
    assert "Шлюз запущен" not in done.stdout


def test_fingerprints_are_taken_as_openssl_prints_them(pki: TestPKI) -> None:
    from pydantic import ValidationError

    from adapters.gosuslugi.pins import fingerprint

    expected = fingerprint(pki.certificate("gateway"))
    line = "sha256 Fingerprint=" + ":".join(expected[i : i + 2].upper() for i in range(0, 64, 2))
    assert SmevConfig(smev_certificate_sha256=[line, expected.upper()]).smev_certificate_sha256 == [expected, expected]
    with pytest.raises(ValidationError, match="SHA-256"):
        SmevConfig(epgu={"certificate_sha256": ["not-a-fingerprint"]})
