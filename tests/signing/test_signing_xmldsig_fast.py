"""XMLDSig verification shortcuts: child lookups as ElementPath, base64 both ways, and the
certificate and trust caches never lending one signer's or one revocation state's verdict to another."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from signing import oids, xmldsig
from signing.test_pki import TestPKI
from signing.trust_store import TrustStore
from signing.xmldsig import DS, sign_element, verify

T = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.2"
B = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.2"


def request(content: str = "Запись в кружок «Робототехника»") -> bytes:
    return (
        f'<ns2:SendRequestRequest xmlns:ns2="{T}" xmlns="{B}">'
        '<ns2:SenderProvidedRequestData Id="SIGNED_BY_CONSUMER">'
        f"<ns2:MessageID>ac9fbf27-8b8c-11eb-8dcd-0242ac130003</ns2:MessageID><MessagePrimaryContent>{content}"
        "</MessagePrimaryContent></ns2:SenderProvidedRequestData><ns2:CallerInformationSystemSignature/>"
        "</ns2:SendRequestRequest>"
    ).encode()


def signed(pki: TestPKI, role: str, content: str = "Запись") -> bytes:
    return sign_element(request(content), "SIGNED_BY_CONSUMER", pki.signer(role))


@given(st.binary(max_size=300), st.sampled_from(["", "\n", "\r\n", " ", "\t"]), st.integers(min_value=1, max_value=80))
def test_base64_reading_equals_the_stdlib_for_wrapped_and_plain_text(raw: bytes, sep: str, width: int) -> None:
    text = base64.b64encode(raw).decode()
    wrapped = sep.join(text[i : i + width] for i in range(0, len(text), width)) if sep else text
    assert xmldsig._b64(wrapped) == raw == base64.b64decode("".join(wrapped.split()), validate=True)


def test_base64_refuses_what_the_stdlib_refuses() -> None:
    for bad in ("QUJD*", "QUJ", "QUJDRA==QQ", "ЖЖЖЖ"):
        try:
            base64.b64decode("".join(bad.split()), validate=True)
        except ValueError:
            pass
        else:
            raise AssertionError(bad)
        try:
            xmldsig._b64(bad)
        except ValueError:
            continue
        raise AssertionError(f"принято: {bad}")


def test_child_lookups_match_elementpath() -> None:
    root = etree.fromstring(
        f'<ds:Signature xmlns:ds="{oids.DS_NS}"><!--c--><ds:SignatureValue/>'
        "<ds:KeyInfo><ds:X509Data><?pi x?><ds:X509Certificate>QUJD<!--x-->REVG</ds:X509Certificate>"
        "<ds:X509Certificate>second</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
    )
    for path in (["SignatureValue"], ["KeyInfo", "X509Data", "X509Certificate"], ["Missing"], ["KeyInfo", "Missing", "X"]):
        assert xmldsig._child_text(root, *(DS + p for p in path)) == root.findtext("/".join(DS + p for p in path))
    assert xmldsig._child(root, DS + "KeyInfo") is root.find(DS + "KeyInfo")
    assert xmldsig._child(None, DS + "KeyInfo") is None


def test_certificate_cache_keeps_signers_apart(pki: TestPKI) -> None:
    for _ in range(2):
        for role in ("provider", "finance", "gateway"):
            (r,) = verify(signed(pki, role))
            assert r.ok and r.certificate == pki.certificate(role)


def test_wrapped_certificate_text_is_the_same_certificate(pki: TestPKI) -> None:
    doc = signed(pki, "provider")
    cert_b64 = base64.b64encode(pki.certificate("provider").der)
    wrapped = b"\n".join(cert_b64[i : i + 64] for i in range(0, len(cert_b64), 64))
    (r,) = verify(doc.replace(cert_b64, wrapped))
    assert r.ok and r.certificate == pki.certificate("provider")


def test_another_signers_certificate_in_keyinfo_fails_after_the_cache_is_warm(pki: TestPKI) -> None:
    assert verify(signed(pki, "finance"))[0].ok  # the finance certificate is now cached by its text
    doc = signed(pki, "provider")
    swapped = doc.replace(base64.b64encode(pki.certificate("provider").der), base64.b64encode(pki.certificate("finance").der))
    (r,) = verify(swapped)
    assert not r.ok and "signature_invalid" in r.codes and r.certificate == pki.certificate("finance")


def test_tampered_signature_value_fails(pki: TestPKI) -> None:
    doc = signed(pki, "provider")
    start = doc.index(b"<ds:SignatureValue>") + len(b"<ds:SignatureValue>")
    value = base64.b64decode(doc[start : doc.index(b"</ds:SignatureValue>")])
    bent = base64.b64encode(bytes([value[0] ^ 1]) + value[1:])
    (r,) = verify(doc[:start] + bent + doc[start + len(bent) :])
    assert not r.ok and "signature_invalid" in r.codes


def test_trust_store_verdict_follows_revocation_and_certificate(pki: TestPKI) -> None:
    store = TrustStore([pki.ca.certificate], crls=[pki.crl])
    good, revoked = signed(pki, "provider"), signed(pki, "revoked")
    for _ in range(2):  # the second round comes from the caches
        (r,) = verify(good, trust=store)
        assert r.ok and r.chain is not None and r.chain.revocation == "good"
        (r,) = verify(revoked, trust=store)
        assert r.crypto_ok and not r.ok and r.chain is not None and r.chain.code == "revoked"
    now = datetime.now(UTC)
    later = pki.issue_crl(now - timedelta(minutes=5), now + timedelta(days=1),
                          {**pki.revoked, pki.certificate("provider").serial: now - timedelta(minutes=10)})
    store.set_crls([later])
    (r,) = verify(good, trust=store)
    assert r.crypto_ok and not r.ok and r.chain is not None and r.chain.code == "revoked"
    (r,) = verify(good, trust=store, at=now - timedelta(minutes=20))  # before the revocation
    assert r.ok


def test_a_second_reference_is_refused_wherever_it_stands(pki: TestPKI) -> None:
    doc = signed(pki, "provider")
    start = doc.index(b"<ds:Reference ")
    ref = doc[start : doc.index(b"</ds:Reference>") + len(b"</ds:Reference>")]
    for bent in (doc.replace(ref, ref + ref), doc.replace(ref, ref + b"<!--x-->" + ref),
                 doc.replace(b"<ds:SignatureMethod", ref + b"<ds:SignatureMethod", 1)):
        (r,) = verify(bent)
        assert not r.ok and r.codes == ["references"]
    (r,) = verify(doc.replace(ref, b"<!--x-->" + ref + b"<!--y-->"))  # comments are outside c14n: nothing changes
    assert r.ok, r.errors


def test_transforms_are_read_from_every_transforms_element(pki: TestPKI) -> None:
    doc = signed(pki, "provider")
    start = doc.index(b"<ds:Transforms>")
    block = doc[start : doc.index(b"</ds:Transforms>") + len(b"</ds:Transforms>")]
    for bent in (doc.replace(block, block + block), doc.replace(block, block + b"<!--x-->"),
                 doc.replace(block, block.replace(oids.SMEV_TRANSFORM.encode(), b"urn:other"))):
        (r,) = verify(bent)
        assert (r.codes == ["transforms"]) is (bent.count(b"<ds:Transforms>") == 2 or b"urn:other" in bent), r.codes
