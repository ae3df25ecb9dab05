"""The ``gateway`` signing commands end to end (real files, real keys, exit codes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.app.cli import main

XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<S:SendRequestRequest xmlns:S="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.2">\n'
    b'  <S:SenderProvidedRequestData Id="SIGNED_BY_CONSUMER"><S:MessageID>ac9fbf27-8b8c-11eb-8dcd-0242ac130003</S:MessageID>'
    b"</S:SenderProvidedRequestData>\n</S:SendRequestRequest>\n"
)


@pytest.fixture(scope="module")
def pkidir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli-pki")
    assert main(["pki", "init", str(d), "--password", "pw"]) == 0
    return d


def test_pki_init_writes_everything(pkidir: Path) -> None:
    for role in ("authorized_body", "finance", "provider", "gateway", "expired", "revoked"):
        assert (pkidir / f"{role}.pem").is_file() and (pkidir / f"{role}.key.pem").is_file()
        assert b"ENCRYPTED PRIVATE KEY" in (pkidir / f"{role}.key.pem").read_bytes()
        assert (pkidir / f"{role}.key.pem").stat().st_mode & 0o077 == 0
    assert (pkidir / "ca.crl").is_file()


def test_keys_new_and_show(pkidir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "new"
    rc = main(["keys", "new", "--out", str(out), "--cn", "Школа № 5", "--innle", "5703000001", "--ogrn", "1025700000099",
               "--ca-key", str(pkidir / "ca.key.pem"), "--ca-cert", str(pkidir / "ca.pem"), "--ca-password", "pw",
               "--password", "k", "--p12"])
    assert rc == 0 and Path(f"{out}.p12").is_file()
    capsys.readouterr()
    assert main(["keys", "show", f"{out}.pem", "--trusted", str(pkidir / "ca.pem"), "--crl", str(pkidir / "ca.crl")]) == 0
    text = capsys.readouterr().out
    assert "Владелец: Школа № 5" in text and "ИНН ЮЛ: 5703000001" in text and "ОГРН: 1025700000099" in text
    assert "[ok]" in text and "[revocation_good]" in text
    assert main(["keys", "show", str(pkidir / "provider.pem"), "--trusted", str(pkidir / "ca.pem"),
                 "--crl", str(pkidir / "ca.crl"), "--json"]) == 0  # fmt: skip
    (shown,) = json.loads(capsys.readouterr().out)
    assert shown["innle"] and shown["ogrn"] and shown["chain"] == {**shown["chain"], "ok": True, "revocation": "good"}
    assert shown["qualified_profile"] == [] and "digital_signature" in shown["key_usage"]
    assert main(["keys", "show", f"{out}.pem", "--json"]) == 0  # a bare test certificate: what it lacks is listed
    (bare,) = json.loads(capsys.readouterr().out)
    assert bare["chain"] is None and {f["attribute"] for f in bare["qualified_profile"]} >= {"STREET"}


def test_sign_and_verify_cms_with_countersignature(pkidir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "agreement.pdf"
    data.write_bytes(b"%PDF-1.4 agreement")
    sig, sig2 = tmp_path / "a.sig", tmp_path / "b.sig"
    assert main(["sign", "cms", str(data), "--key", str(pkidir / "authorized_body.p12"), "--password", "pw", "--out", str(sig)]) == 0
    assert main(["sign", "cms", str(data), "--key", str(pkidir / "provider.key.pem"), "--cert", str(pkidir / "provider.pem"),
                 "--password", "pw", "--countersign", str(sig), "--out", str(sig2)]) == 0
    capsys.readouterr()
    assert main(["verify", str(sig2), "--content", str(data), "--trusted", str(pkidir / "ca.pem"), "--crl", str(pkidir / "ca.crl")]) == 0
    text = capsys.readouterr().out
    assert text.count("ПОДПИСЬ ВЕРНА [valid]") == 2 and "ИНН: 570200000359" in text and "СНИЛС: 98765432183" in text
    data.write_bytes(b"%PDF-1.4 agreement, changed")
    assert main(["verify", str(sig2), "--content", str(data)]) == 1
    assert "[digest_mismatch]" in capsys.readouterr().out
    assert main(["verify", str(sig2)]) == 2  # detached CMS needs --content


def test_sign_and_verify_xml(pkidir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "req.xml", tmp_path / "req.signed.xml"
    src.write_bytes(XML)
    assert main(["sign", "xml", str(src), "--id", "SIGNED_BY_CONSUMER", "--key", str(pkidir / "gateway.p12"), "--password", "pw",
                 "--into", "CallerInformationSystemSignature", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--trusted", str(pkidir / "ca.pem")]) == 0
    text = capsys.readouterr().out
    assert "Ссылка: #SIGNED_BY_CONSUMER" in text and "Итог: все подписи верны [ok]" in text


def test_verify_exit_status_depends_on_trusted(pkidir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "req.xml", tmp_path / "expired.xml"
    src.write_bytes(XML)
    assert main(["sign", "xml", str(src), "--id", "SIGNED_BY_CONSUMER", "--key", str(pkidir / "expired.key.pem"),
                 "--cert", str(pkidir / "expired.pem"), "--password", "pw", "--out", str(out)]) == 0
    assert main(["verify", str(out)]) == 0  # chain printed but not decisive without --trusted
    assert "[chain_not_checked]" in capsys.readouterr().out
    assert main(["verify", str(out), "--trusted", str(pkidir / "ca.pem")]) == 1
    assert "[expired]" in capsys.readouterr().out


def test_real_tampered_smev_message_is_rejected(conformance: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = conformance / "smev-messages"
    assert main(["verify", str(base / "GetResponseResponse_ValidResponse.wire.xml")]) == 1
    assert main(["verify", str(base / "GetResponseResponce_InvalidContent.wire.xml")]) == 0


def test_bad_input_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path / "missing.xml")]) == 2
    assert "Ошибка" in capsys.readouterr().err
