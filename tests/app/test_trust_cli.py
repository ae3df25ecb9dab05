"""``gateway trust import-tsl|show``: the Ministry's list of accredited CAs stored in the pki dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.app.cli import main
from signing.test_tsl import TestTSL, create_test_tsl
from signing.trust_list import load_imported

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tsl() -> TestTSL:
    return create_test_tsl(version=5)


@pytest.fixture
def files(tsl: TestTSL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """List files and certificates in ``tmp_path``; the gateway's data dir is ``tmp_path/var``."""
    (tmp_path / "tsl.xml").write_bytes(tsl.signed)
    (tmp_path / "unsigned.xml").write_bytes(tsl.xml)
    (tmp_path / "ministry.pem").write_bytes(tsl.ministry.certificate.pem)
    (tmp_path / "head.pem").write_bytes(tsl.head.certificate.pem)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("GATEWAY_PKI_DIR", raising=False)
    monkeypatch.delenv("GATEWAY_TRUST__TSL_SIGNER_CERT", raising=False)
    return tmp_path


def _stored(files: Path) -> Path:
    return files / "var" / "pki" / "tsl" / "tsl.xml"


def test_import_then_show_round_trip(files: Path, tsl: TestTSL, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trust", "show"]) == 1
    assert "[tsl_not_imported]" in capsys.readouterr().err
    assert main(["trust", "import-tsl", str(files / "tsl.xml"), "--signer-cert", str(files / "ministry.pem")]) == 0
    out = capsys.readouterr().out
    assert "импортирован" in out and "[tsl_imported]" in out
    assert "Версия: 5" in out and "УЦ: 2 (аккредитованы сейчас: 1)" in out and "доверенных корней): 2" in out
    assert "[tsl_signature_verified]" in out and "Минцифры России (тест)" in out
    assert _stored(files).read_bytes() == tsl.signed and _stored(files).with_name("summary.json").is_file()
    loaded = load_imported(files / "var" / "pki")
    assert loaded is not None and len(loaded.anchors) == 2

    assert main(["trust", "show"]) == 0
    out = capsys.readouterr().out
    assert "Версия: 5" in out and "[tsl_signature_verified]" in out
    assert main(["trust", "show", "--ca", "902"]) == 0
    out = capsys.readouterr().out
    assert "Приостановленный удостоверяющий центр" in out and "Периоды аккредитации: с " in out and "(действует)" in out
    assert main(["trust", "show", "--json", "--ca", "5700000101"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ok"] and shown["version"] == 5 and shown["cas"] == 2 and shown["signature"] == "verified"
    [found] = shown["found"]
    assert found["inn"] == "5700000101" and not found["active"] and found["periods"][0][1] is not None
    assert found["certificates"][0].startswith("-----BEGIN CERTIFICATE-----")


def test_import_json_and_the_issuer_as_signer_setting(files: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("GATEWAY_TRUST__TSL_SIGNER_CERT", str(files / "head.pem"))
    assert main(["trust", "import-tsl", str(files / "tsl.xml"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] and result["code"] == "tsl_imported" and result["signature"] == "verified"
    assert result["cas"] == 2 and result["active"] == 1 and result["certificates"] == 2 and result["version"] == 5
    assert result["file"] == str(_stored(files))


def test_unsigned_list_is_refused_when_a_signer_is_configured(files: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("GATEWAY_TRUST__TSL_SIGNER_CERT", str(files / "ministry.pem"))
    assert main(["trust", "import-tsl", str(files / "unsigned.xml")]) == 1
    err = capsys.readouterr().err
    assert "[tsl_signature_invalid]" in err and "не подписан" in err
    assert not _stored(files).exists()
    assert main(["trust", "import-tsl", str(files / "unsigned.xml"), "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {
        "ok": False, "code": "tsl_signature_invalid", "message": "список не подписан, а сертификат подписи списка задан",
    }  # fmt: skip


def test_without_a_signer_the_list_is_imported_with_a_warning(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trust", "import-tsl", str(files / "unsigned.xml")]) == 0
    out = capsys.readouterr().out
    assert "[tsl_unsigned]" in out and "подпись списка не проверена" in out


def test_tampered_list_is_refused_and_the_stored_one_kept(files: Path, tsl: TestTSL, capsys: pytest.CaptureFixture[str]) -> None:
    signer = ["--signer-cert", str(files / "ministry.pem")]
    assert main(["trust", "import-tsl", str(files / "tsl.xml"), *signer]) == 0
    tampered = files / "tampered.xml"
    tampered.write_bytes(tsl.signed.replace("<Статус>Прекращена</Статус>".encode(), "<Статус>Действует</Статус>".encode()))
    capsys.readouterr()
    assert main(["trust", "import-tsl", str(tampered), *signer]) == 1
    assert "[tsl_signature_invalid]" in capsys.readouterr().err
    assert _stored(files).read_bytes() == tsl.signed


def test_an_older_version_needs_force(files: Path, tsl: TestTSL, capsys: pytest.CaptureFixture[str]) -> None:
    older = files / "older.xml"
    older.write_bytes(tsl.xml.replace("<Версия>5</Версия>".encode(), "<Версия>4</Версия>".encode()))
    assert main(["trust", "import-tsl", str(files / "unsigned.xml")]) == 0
    assert main(["trust", "import-tsl", str(older)]) == 1
    assert "[tsl_older]" in capsys.readouterr().err
    assert main(["trust", "import-tsl", str(older), "--force"]) == 0
    assert "<Версия>4</Версия>".encode() in _stored(files).read_bytes()


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"<html><body>502 Bad Gateway</body></html>", "tsl_not_a_list"), (b"\x00\x01binary", "tsl_malformed"),
     (b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>', "tsl_unsafe_xml")],
)  # fmt: skip
def test_a_file_that_is_not_a_list(files: Path, content: bytes, code: str, capsys: pytest.CaptureFixture[str]) -> None:
    bad = files / "bad.xml"
    bad.write_bytes(content)
    assert main(["trust", "import-tsl", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"[{code}]" in err and err.startswith("Ошибка: ") and "Traceback" not in err
    assert not _stored(files).exists()


def test_missing_file_and_signer(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trust", "import-tsl", str(files / "absent.xml")]) == 2
    assert "[tsl_unreadable]" in capsys.readouterr().err
    assert main(["trust", "import-tsl", str(files / "tsl.xml"), "--signer-cert", str(files / "tsl.xml")]) == 2
    assert "[tsl_signer_unreadable]" in capsys.readouterr().err


def test_python_m_gateway_trust_import(files: Path) -> None:
    """The real command in a process of its own, with the settings from the environment."""
    env = {**os.environ, "GATEWAY_DATA_DIR": str(files / "var"), "GATEWAY_TRUST__TSL_SIGNER_CERT": str(files / "head.pem")}
    env.pop("GATEWAY_PKI_DIR", None)
    run = subprocess.run([sys.executable, "-m", "gateway", "trust", "import-tsl", str(files / "tsl.xml")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "[tsl_signature_verified]" in run.stdout
    run = subprocess.run([sys.executable, "-m", "gateway", "trust", "show", "--json"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["signature"] == "verified"
