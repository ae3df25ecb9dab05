"""XMLDSig in the SMEV profile: real SMEV messages, round trips, wrapping attacks, OpenSSL."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from signing import oids
from signing.backend import Backend
from signing.keys import GostSigner
from signing.smev_transform import transform_element
from signing.test_pki import TestPKI
from signing.xml_parsing import UnsafeXMLError, parse_document
from signing.xmldsig import DS, XMLSignatureError, sign_element, verified_element, verify

T = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.2"
B = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.2"
SPRD = f"{{{T}}}SenderProvidedRequestData"


def request(content: str = "Запись в кружок «Робототехника»", extra: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ns2:SendRequestRequest xmlns:ns2="{T}" xmlns="{B}">\n'
        '  <ns2:SenderProvidedRequestData Id="SIGNED_BY_CONSUMER">\n'
        "    <ns2:MessageID>ac9fbf27-8b8c-11eb-8dcd-0242ac130003</ns2:MessageID>\n"
        '    <MessagePrimaryContent><o:Order xmlns:o="urn://example/social-order/1.0">'
        f"<o:Program>{content}</o:Program><o:Child snils=\"12345678964\">Иванов И.</o:Child></o:Order>"
        "</MessagePrimaryContent>\n"
        f"  </ns2:SenderProvidedRequestData>{extra}\n"
        "  <ns2:CallerInformationSystemSignature/>\n"
        "</ns2:SendRequestRequest>\n"
    ).encode()


# --- conformance: real signed SMEV messages -------------------------------------------------


def _expectations(conformance: Path) -> list[dict[str, Any]]:
    base = conformance / "smev-messages"
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(base.glob("*.expected.json"))]


def test_all_real_messages_are_covered(conformance: Path) -> None:
    assert len(_expectations(conformance)) == 7


@pytest.mark.parametrize(
    "name",
    [
        "SendRequestResponce.xml",
        "SendRequestResponce.wire.xml",
        "GetResponseResponce_InvalidContent.xml",
        "GetResponseResponce_InvalidContent.wire.xml",
        "GetResponseResponse_ValidResponse.xml",
        "GetResponseResponse_ValidResponse.wire.xml",
        "Habr_SendRequestRequest_gost2001.xml",
    ],
)
def test_real_smev_message(conformance: Path, engine: Backend, name: str) -> None:
    exp = next(e for e in _expectations(conformance) if e["file"] == name)
    base = conformance / "smev-messages"
    reports = verify((base / name).read_bytes(), backend=engine)
    assert len(reports) == len(exp["signatures"])
    assert (bool(reports) and all(r.ok for r in reports)) == exp["all_signatures_must_verify"]
    root = parse_document((base / name).read_bytes()).getroot()
    for report, sig in zip(reports, exp["signatures"], strict=True):
        assert report.reference_id == sig["reference"]
        assert report.signed_name == sig["signed_element"]
        assert report.container == sig["signature_container"]
        assert report.digest_ok == sig["digest_must_verify"]
        assert report.signature_ok == sig["signature_value_must_verify"]
        assert report.signature_method == sig["signature_method"]
        assert report.certificate is not None
        assert report.certificate.subject.get("CN") == sig["certificate"]["subject_CN"]
        assert f"{report.certificate.serial:X}" == sig["certificate"]["serial"].lstrip("0")
        assert report.chain is None  # no trust anchors given: no current-time checks
        target = next(e for e in root.iter() if isinstance(e.tag, str) and e.get("Id") == sig["reference"])
        computed = engine.digest(oids.XML_DIGESTS[sig["digest_method"]], transform_element(target))
        assert base64.b64encode(computed).decode() == sig["computed_digest_value"]
        if "transform_output_file" in sig:
            assert transform_element(target) == (base / sig["transform_output_file"]).read_bytes()
            signature = next(s for s in root.iter(DS + "Signature") if s.find(f".//{DS}Reference").get("URI") == "#" + sig["reference"])
            c14n = etree.tostring(signature.find(DS + "SignedInfo"), method="c14n", exclusive=True, with_comments=False)
            assert c14n == (base / sig["signedinfo_c14n_file"]).read_bytes()
        if report.digest_ok:
            assert report.signed_bytes == transform_element(target)
            assert report.signed_element is not None and report.signed_element.tag == sig["signed_element"]


# --- round trips ----------------------------------------------------------------------------


def test_sign_then_verify_with_chain(pki: TestPKI) -> None:
    signer = pki.signer("gateway")
    signed = sign_element(request(), "SIGNED_BY_CONSUMER", signer, "CallerInformationSystemSignature")
    reports = verify(signed, trusted=pki.ca.certificate, crl=pki.crl)
    assert len(reports) == 1
    r = reports[0]
    assert r.ok and r.digest_ok and r.signature_ok and r.chain is not None and r.chain.ok
    assert r.chain.revocation == "good"
    assert r.container == f"{{{T}}}CallerInformationSystemSignature"
    assert r.certificate == signer.certificate
    assert r.signed_element is not None
    assert r.signed_element.findtext(".//{urn://example/social-order/1.0}Program") == "Запись в кружок «Робототехника»"
    assert verified_element(reports, SPRD) is r.signed_element


def test_signed_document_keeps_its_bytes_outside_the_signature(pki: TestPKI) -> None:
    original = request()
    signed = sign_element(original, "SIGNED_BY_CONSUMER", pki.signer("gateway"))
    head = original.split(b"<ns2:CallerInformationSystemSignature/>")[0]
    assert signed.startswith(head)
    assert b"\n  <ns2:CallerInformationSystemSignature><ds:Signature" in signed


def test_signature_value_is_over_the_exact_signedinfo_template(pki: TestPKI, engine: Backend) -> None:
    signer = pki.signer("gateway")
    signed = sign_element(request(), "SIGNED_BY_CONSUMER", signer)
    root = parse_document(signed).getroot()
    si = next(root.iter(DS + "SignedInfo"))
    c14n = etree.tostring(si, method="c14n", exclusive=True, with_comments=False)
    assert c14n.startswith(b'<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:CanonicalizationMethod')
    sig = base64.b64decode(root.findtext(f".//{DS}SignatureValue") or "")
    from signing.chain import public_key

    assert public_key(signer.certificate, engine).verify_digest(engine.digest("streebog256", c14n), sig)


def test_expired_and_revoked_signers_fail_the_chain_only(pki: TestPKI) -> None:
    for role, code in (("expired", "expired"), ("revoked", "revoked")):
        signed = sign_element(request(), "SIGNED_BY_CONSUMER", pki.signer(role))
        (r,) = verify(signed, trusted=pki.ca.certificate, crl=pki.crl)
        assert r.crypto_ok and not r.ok
        assert r.chain is not None and r.chain.code == code


def test_untrusted_root(pki: TestPKI) -> None:
    from signing.test_pki import create_test_pki

    other = create_test_pki()
    signed = sign_element(request(), "SIGNED_BY_CONSUMER", other.signer("gateway"))
    (r,) = verify(signed, trusted=pki.ca.certificate)
    assert r.crypto_ok and not r.ok and r.chain is not None
    assert r.chain.code in ("untrusted", "bad_signature")  # same CA name, different key


def test_512_bit_key(engine: Backend, pki: TestPKI) -> None:
    from datetime import UTC, datetime, timedelta

    from signing.test_pki import issue_certificate

    key = engine.generate(64, "A")
    now = datetime.now(UTC)
    cert = issue_certificate(pki.ca, key, {"CN": "512"}, not_before=now - timedelta(days=1), not_after=now + timedelta(days=1))
    signed = sign_element(request(), "SIGNED_BY_CONSUMER", GostSigner(key, cert, backend=engine))
    (r,) = verify(signed, trusted=pki.ca.certificate)
    assert r.ok and r.signature_method == oids.XML_SIG_2012_512 and r.digest_method == oids.XML_DIGEST_512


def test_fallback_backend_signs_and_engine_verifies(pki: TestPKI, pyback: Backend, engine: Backend) -> None:
    s = pki.signer("provider")
    py_signer = GostSigner(pyback.load_private_key(s.key.pkcs8(), 32), s.certificate, backend=pyback)
    signed = sign_element(request(), "SIGNED_BY_CONSUMER", py_signer, backend=pyback)
    assert verify(signed, backend=engine)[0].ok
    assert verify(signed, backend=pyback)[0].ok
    engine_signed = sign_element(request(), "SIGNED_BY_CONSUMER", s, backend=engine)
    assert verify(engine_signed, backend=pyback)[0].ok


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=_TEXT, changed=_TEXT)
def test_round_trip_and_tampering_of_content(pki: TestPKI, content: str, changed: str) -> None:
    esc = content.replace("&", "&amp;").replace("<", "&lt;")
    signed = sign_element(request(esc), "SIGNED_BY_CONSUMER", pki.signer("gateway"))
    (r,) = verify(signed)
    assert r.ok
    assert r.signed_element is not None
    assert r.signed_element.findtext(".//{urn://example/social-order/1.0}Program") == content
    root = parse_document(signed).getroot()
    program = next(root.iter("{urn://example/social-order/1.0}Program"))
    if changed.strip("".join(chr(i) for i in range(33))) == content.strip("".join(chr(i) for i in range(33))):
        return
    program.text = changed
    (bad,) = verify(etree.tostring(root, encoding="UTF-8"))
    assert not bad.ok and not bad.digest_ok and bad.signed_element is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(min_value=0, max_value=10_000), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_signature_bit_is_rejected(pki: TestPKI, index: int, bit: int) -> None:
    signed = sign_element(request(), "SIGNED_BY_CONSUMER", pki.signer("gateway"))
    root = parse_document(signed).getroot()
    sv = next(root.iter(DS + "SignatureValue"))
    raw = bytearray(base64.b64decode(sv.text or ""))
    raw[index % len(raw)] ^= 1 << bit
    sv.text = base64.b64encode(bytes(raw)).decode()
    (r,) = verify(etree.tostring(root, encoding="UTF-8"))
    assert r.digest_ok and not r.signature_ok and not r.ok


def test_pretty_printing_signedinfo_breaks_the_signature_but_not_the_digest(pki: TestPKI) -> None:
    signed = sign_element(request(), "SIGNED_BY_CONSUMER", pki.signer("gateway"))
    root = parse_document(signed).getroot()
    etree.indent(root)
    (r,) = verify(etree.tostring(root, encoding="UTF-8"))
    assert r.digest_ok and not r.signature_ok


# --- signature wrapping ---------------------------------------------------------------------


def _signed_tree(pki: TestPKI) -> etree._Element:
    return parse_document(sign_element(request(), "SIGNED_BY_CONSUMER", pki.signer("gateway"))).getroot()


def test_moved_id_is_rejected(pki: TestPKI) -> None:
    root = _signed_tree(pki)
    original = root.find(SPRD)
    assert original is not None
    forged = copy.deepcopy(original)
    del forged.attrib["Id"]
    next(forged.iter("{urn://example/social-order/1.0}Program")).text = "Поддельная программа"
    # the genuine signed element is hidden deeper, the forged one takes its place
    hideout = etree.SubElement(root, f"{{{T}}}Extension")
    original.addprevious(forged)
    hideout.append(original)
    (r,) = verify(etree.tostring(root, encoding="UTF-8"))
    assert not r.ok and "wrapping" in r.codes
    # also when hidden inside the signature wrapper, next to ds:Signature
    root = _signed_tree(pki)
    original = root.find(SPRD)
    wrapper = root.find(f"{{{T}}}CallerInformationSystemSignature")
    assert original is not None and wrapper is not None
    forged = copy.deepcopy(original)
    del forged.attrib["Id"]
    original.addprevious(forged)
    wrapper.append(original)
    (r,) = verify(etree.tostring(root, encoding="UTF-8"))
    assert not r.ok and "wrapping" in r.codes


def test_duplicated_id_is_rejected(pki: TestPKI) -> None:
    root = _signed_tree(pki)
    original = root.find(SPRD)
    assert original is not None
    forged = copy.deepcopy(original)
    next(forged.iter("{urn://example/social-order/1.0}Program")).text = "Поддельная программа"
    original.addprevious(forged)
    (r,) = verify(etree.tostring(root, encoding="UTF-8"))
    assert not r.ok and "duplicate_id" in r.codes
    with pytest.raises(XMLSignatureError):
        sign_element(etree.tostring(root, encoding="UTF-8"), "SIGNED_BY_CONSUMER", pki.signer("gateway"))


def test_signature_over_a_sibling_is_rejected(pki: TestPKI) -> None:
    sibling = f'\n  <ns2:Timestamp xmlns:ns2="{T}" Id="TS">2026-01-01T00:00:00</ns2:Timestamp>'
    doc = request(extra=sibling).replace(b' Id="SIGNED_BY_CONSUMER"', b"")
    signed = sign_element(doc, "TS", pki.signer("gateway"))
    reports = verify(signed)
    assert reports[0].ok  # cryptographically fine, but it signs the Timestamp...
    with pytest.raises(XMLSignatureError):
        verified_element(reports, SPRD)  # ...so the request data is never handed out
    (r,) = verify(signed, expect_signed={SPRD})
    assert not r.ok and "unexpected_element" in r.codes


def test_signature_inside_signed_element_or_object_is_rejected(pki: TestPKI) -> None:
    root = _signed_tree(pki)
    sig = next(root.iter(DS + "Signature"))
    obj = etree.SubElement(sig, DS + "Object")
    target = root.find(SPRD)
    assert target is not None
    obj.append(copy.deepcopy(target))
    target.attrib["Id"] = "OTHER"
    (r,) = verify(etree.tostring(root, encoding="UTF-8"))
    assert not r.ok


def test_reference_to_a_missing_element_and_foreign_uri(pki: TestPKI) -> None:
    signed = sign_element(request(), "SIGNED_BY_CONSUMER", pki.signer("gateway"))
    (r,) = verify(signed.replace(b'URI="#SIGNED_BY_CONSUMER"', b'URI="#NOPE"'))
    assert not r.ok and "reference_missing" in r.codes
    (r,) = verify(signed.replace(b'URI="#SIGNED_BY_CONSUMER"', b'URI="http://example.invalid/x"'))
    assert not r.ok and "reference_uri" in r.codes


def test_doctype_is_refused_by_the_verifier(pki: TestPKI) -> None:
    signed = sign_element(request(), "SIGNED_BY_CONSUMER", pki.signer("gateway"))
    evil = signed.replace(b"?>\n", b'?>\n<!DOCTYPE x [<!ENTITY e "x">]>\n', 1)
    with pytest.raises(UnsafeXMLError):
        verify(evil)


# --- OpenSSL command line in both directions -------------------------------------------------


def test_openssl_verifies_our_xml_signature(pki: TestPKI, pki_dir: Path, tmp_path: Path, openssl: Any) -> None:
    signed = sign_element(request(), "SIGNED_BY_CONSUMER", pki.signer("gateway"))
    root = parse_document(signed).getroot()
    si = next(root.iter(DS + "SignedInfo"))
    (tmp_path / "si.xml").write_bytes(etree.tostring(si, method="c14n", exclusive=True, with_comments=False))
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(root.findtext(f".//{DS}SignatureValue") or ""))
    pub = openssl(["x509", "-in", pki_dir / "gateway.pem", "-pubkey", "-noout"]).stdout
    (tmp_path / "pub.pem").write_bytes(pub)
    out = openssl(["dgst", "-md_gost12_256", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig.bin", tmp_path / "si.xml"])
    assert b"Verified OK" in out.stdout
    target = root.find(SPRD)
    assert target is not None
    (tmp_path / "t.xml").write_bytes(transform_element(target))
    digest = openssl(["dgst", "-md_gost12_256", "-binary", tmp_path / "t.xml"]).stdout
    assert base64.b64encode(digest).decode() == root.findtext(f".//{DS}DigestValue")


def test_we_verify_an_xml_signature_made_by_openssl(pki: TestPKI, pki_dir: Path, tmp_path: Path, openssl: Any) -> None:
    doc = request()
    root = parse_document(doc).getroot()
    target = root.find(SPRD)
    assert target is not None
    (tmp_path / "t.xml").write_bytes(transform_element(target))
    digest_b64 = base64.b64encode(openssl(["dgst", "-md_gost12_256", "-binary", tmp_path / "t.xml"]).stdout).decode()
    body = (
        f'<ds:CanonicalizationMethod Algorithm="{oids.EXC_C14N}"></ds:CanonicalizationMethod>'
        f'<ds:SignatureMethod Algorithm="{oids.XML_SIG_2012_256}"></ds:SignatureMethod>'
        '<ds:Reference URI="#SIGNED_BY_CONSUMER"><ds:Transforms>'
        f'<ds:Transform Algorithm="{oids.EXC_C14N}"></ds:Transform><ds:Transform Algorithm="{oids.SMEV_TRANSFORM}"></ds:Transform>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="{oids.XML_DIGEST_256}"></ds:DigestMethod>'
        f"<ds:DigestValue>{digest_b64}</ds:DigestValue></ds:Reference>"
    )
    canonical = f'<ds:SignedInfo xmlns:ds="{oids.DS_NS}">{body}</ds:SignedInfo>'.encode()
    (tmp_path / "si.xml").write_bytes(canonical)
    key = pki_dir / "gateway.key.pem"
    sig = openssl(["dgst", "-md_gost12_256", "-sign", key, "-passin", "pass:пароль-теста", "-binary", tmp_path / "si.xml"]).stdout
    cert_b64 = base64.b64encode(pki.certificate("gateway").der).decode()
    signature = (
        f'<ds:Signature xmlns:ds="{oids.DS_NS}"><ds:SignedInfo>{body}</ds:SignedInfo>'
        f"<ds:SignatureValue>{base64.b64encode(sig).decode()}</ds:SignatureValue>"
        f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
    )
    signed = doc.replace(b"<ns2:CallerInformationSystemSignature/>", f"<ns2:CallerInformationSystemSignature>{signature}</ns2:CallerInformationSystemSignature>".encode())
    (r,) = verify(signed, trusted=pki.ca.certificate)
    assert r.ok, r.errors
