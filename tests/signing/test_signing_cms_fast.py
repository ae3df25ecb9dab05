"""The CMS fast paths: the hand-written DER against asn1crypto, the strict reader against the
asn1crypto reader, tampering through either, and the caches not mixing signers or states."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from asn1crypto import algos, core, x509
from asn1crypto import cms as acms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signing import cms, der, oids
from signing.certificates import Certificate
from signing.keys import GostSigner
from signing.test_pki import TestPKI, create_test_pki
from signing.trust_store import TrustStore

DATA = "Соглашение о предоставлении услуги № 17".encode()
FAKE = bytes(range(64))  # a constant "signature": GOST signatures are randomised, encodings are compared with this one
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


# ---------------------------------------------------------------- DER writer and reader against asn1crypto


@given(size=st.integers(min_value=0, max_value=70_000), tag=st.sampled_from([0x04, 0x30, 0x31, 0xA0]))
def test_tlv_and_length_equal_asn1crypto(size: int, tag: int) -> None:
    content = bytes([size % 251]) * size
    encoded = der.tlv(tag, content)
    assert encoded == bytes([tag]) + core.OctetString(content).dump()[1:]
    assert der.read(encoded, 0, len(encoded)) == (tag, len(encoded) - size, len(encoded))


@given(st.integers(min_value=-(2**520), max_value=2**520))
def test_integer_equals_asn1crypto(value: int) -> None:
    encoded = der.integer(value)
    assert encoded == core.Integer(value).dump()
    tag, s, e = der.read(encoded, 0, len(encoded))
    assert tag == der.INTEGER and der.decode_integer(encoded[s:e]) == value


@given(
    first=st.integers(min_value=0, max_value=2),
    second=st.integers(min_value=0, max_value=39),
    rest=st.lists(st.integers(min_value=0, max_value=2**70), max_size=12),
)
def test_object_identifier_equals_asn1crypto(first: int, second: int, rest: list[int]) -> None:
    dotted = ".".join(map(str, [first, second, *rest]))
    encoded = der.oid(dotted)
    assert encoded == core.ObjectIdentifier(dotted).dump()
    assert der.decode_oid(encoded[2:] if encoded[1] < 0x80 else encoded[3:]) == dotted


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)))
def test_time_equals_asn1crypto(when: datetime) -> None:
    when = when.replace(microsecond=0)
    encoded = der.time(when)
    ref = core.UTCTime(when) if 1950 <= when.year <= 2049 else core.GeneralizedTime(when)
    assert encoded == ref.dump()
    tag, s, e = der.read(encoded, 0, len(encoded))
    assert der.decode_time(tag, encoded[s:e]) == when == ref.native


def test_reader_refuses_what_is_not_strict_der() -> None:
    for bad in (b"\x30\x80\x00\x00", b"\x30\x81\x05abcde", b"\x30\x82\x00\x05abcde", b"\x1f\x01\x00", b"\x04\x05ab"):
        with pytest.raises(der.DERError):
            der.read(bad, 0, len(bad))
    with pytest.raises(der.DERError):
        der.decode_oid(b"\x2a\x80\x01")  # a subidentifier with a leading 0x80
    with pytest.raises(der.DERError):
        der.decode_time(der.UTC_TIME, b"2603040506Z")  # no seconds: left to asn1crypto


# ---------------------------------------------------------------- signing: byte for byte as the asn1crypto construction


class _IssuerSerial(core.Sequence):  # type: ignore[misc]
    _fields = [("issuer", x509.GeneralNames), ("serial_number", core.Integer)]


class _ESSCertIDv2(core.Sequence):  # type: ignore[misc]
    _fields = [("hash_algorithm", algos.DigestAlgorithm), ("cert_hash", core.OctetString),
               ("issuer_serial", _IssuerSerial, {"optional": True})]


class _ESSCertIDs(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _ESSCertIDv2


class _SigningCertificateV2(core.Sequence):  # type: ignore[misc]
    _fields = [("certs", _ESSCertIDs), ("policies", core.Any, {"optional": True})]


class _SetOfAny(core.SetOf):  # type: ignore[misc]
    _child_spec = core.Any


class _RawAttribute(core.Sequence):  # type: ignore[misc]
    _fields = [("type", core.ObjectIdentifier), ("values", _SetOfAny)]


def _alg(name: str) -> algos.DigestAlgorithm:
    return algos.DigestAlgorithm({"algorithm": oids.OID_BY_DIGEST[name], "parameters": core.Null()})


def reference_signature(data: bytes, signer: Any, when: datetime, cades: bool, include_chain: bool) -> bytes:
    """The signature as the asn1crypto construction (the module's previous code) builds it."""
    b = signer.backend
    cert: Certificate = signer.certificate
    name = "streebog256" if cert.key_size == 32 else "streebog512"
    attrs = [
        cms_attr({"type": "content_type", "values": ["data"]}),
        cms_attr({"type": "signing_time", "values": [acms.Time(name="utc_time", value=when)]}),
        cms_attr({"type": "message_digest", "values": [b.digest(name, data)]}),
    ]
    if cades:
        ess = _SigningCertificateV2({"certs": [{
            "hash_algorithm": _alg("streebog256"),
            "cert_hash": b.digest("streebog256", cert.der),
            "issuer_serial": {"issuer": [x509.GeneralName(name="directory_name", value=x509.Name.load(cert.issuer_der))],
                              "serial_number": cert.serial},
        }]})
        attrs.append(_RawAttribute({"type": "1.2.840.113549.1.9.16.2.47", "values": [core.Any.load(ess.dump())]}).dump())
    attrs.sort()
    signed = acms.CMSAttributes([acms.CMSAttribute.load(e) for e in attrs])
    signature = signer.sign(signed.dump())
    info = acms.SignerInfo({
        "version": "v1",
        "sid": acms.SignerIdentifier(name="issuer_and_serial_number",
                                     value={"issuer": x509.Name.load(cert.issuer_der), "serial_number": cert.serial}),
        "digest_algorithm": _alg(name),
        "signed_attrs": signed,
        "signature_algorithm": {"algorithm": oids.GOST2012_256 if cert.key_size == 32 else oids.GOST2012_512,
                                "parameters": core.Null()},
        "signature": signature,
    })
    certs = [cert] + (list(signer.chain) if include_chain else [])
    sd = acms.SignedData({
        "version": "v1",
        "digest_algorithms": [_alg(name)],
        "encap_content_info": {"content_type": "data"},
        "certificates": [acms.CertificateChoices(name="certificate", value=x509.Certificate.load(c.der)) for c in certs],
        "signer_infos": [info],
    })
    return cast(bytes, acms.ContentInfo({"content_type": "signed_data", "content": sd}).dump())


def cms_attr(value: dict[str, Any]) -> bytes:
    return cast(bytes, acms.CMSAttribute(value).dump())


@dataclass
class FixedSigner:
    """A real signer's certificate and chain with a constant signature value, recording what it signed."""

    real: GostSigner
    signed: list[bytes] = field(default_factory=list)

    @property
    def certificate(self) -> Certificate:
        return self.real.certificate

    @property
    def chain(self) -> tuple[Certificate, ...]:
        return self.real.chain

    @property
    def backend(self) -> Any:
        return self.real.backend

    def sign(self, data: bytes) -> bytes:
        self.signed.append(data)
        return FAKE * (self.certificate.key_size // 32)


@pytest.fixture(scope="module")
def pki512() -> TestPKI:
    return create_test_pki(size=64, paramset="A", ocsp_responder=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=3000),
    when=st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2049, 12, 31), timezones=st.just(UTC)),
    role=st.sampled_from(["provider", "finance", "gateway", "authorized_body", "expired"]),
    cades=st.booleans(),
    include_chain=st.booleans(),
    wide=st.booleans(),
)
def test_signature_is_byte_identical_to_the_asn1crypto_construction(
    pki: TestPKI, pki512: TestPKI, data: bytes, when: datetime, role: str, cades: bool, include_chain: bool, wide: bool
) -> None:
    source = pki512 if wide else pki
    fast, ref = FixedSigner(source.signer(role)), FixedSigner(source.signer(role))
    when = when.replace(microsecond=0)
    ours = cms.sign_detached(data, fast, signing_time=when, cades=cades, include_chain=include_chain)
    assert ours == reference_signature(data, ref, when, cades, include_chain)
    assert fast.signed == ref.signed  # the same signed attributes were handed to the key


def test_512_bit_signatures_verify_and_openssl_agrees(pki512: TestPKI, tmp_path: Path, openssl: Any) -> None:
    signer = pki512.signer("provider")
    sig = cms.sign_detached(DATA, signer)
    (r,) = cms.verify_detached(sig, DATA, trusted=pki512.ca.certificate, crl=pki512.crl)
    assert r.ok, r.errors
    assert cms._parse_fast(sig) == cms.parse_signed_data(sig, fast=False)
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "sig").write_bytes(sig)
    (tmp_path / "ca.pem").write_bytes(pki512.ca.certificate.pem)
    out = openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig", "-content", tmp_path / "data",
                   "-CAfile", tmp_path / "ca.pem", "-out", tmp_path / "out", "-cades"])
    assert b"Verification successful" in out.stderr


# ---------------------------------------------------------------- reading: strict reader == asn1crypto reader


@pytest.fixture(scope="module")
def openssl_signatures(pki_dir: Path, tmp_path_factory: pytest.TempPathFactory, openssl: Any) -> list[bytes]:
    d = tmp_path_factory.mktemp("ossl")
    (d / "data").write_bytes(DATA)
    out = []
    for extra in ([], ["-cades"], ["-nosmimecap", "-cades"], ["-noattr"], ["-keyid"]):
        openssl(["cms", "-sign", "-binary", "-in", d / "data", "-signer", pki_dir / "finance.pem",
                 "-inkey", pki_dir / "finance.key.pem", "-passin", "pass:пароль-теста", "-outform", "DER",
                 "-out", d / "sig", *extra])
        out.append((d / "sig").read_bytes())
    return out


def test_strict_reader_takes_ours_and_openssls_and_agrees_with_asn1crypto(
    pki: TestPKI, openssl_signatures: list[bytes]
) -> None:
    ours = [
        cms.sign_detached(DATA, pki.signer("provider")),
        cms.sign_detached(DATA, pki.signer("finance"), cades=False, include_chain=False),
        cms.countersign(cms.sign_detached(DATA, pki.signer("authorized_body")), DATA, pki.signer("provider")),
    ]
    for sig in ours + openssl_signatures:
        fast = cms._parse_fast(sig)  # the fast path is taken: no DERError
        assert fast == cms.parse_signed_data(sig, fast=False)
        reports = cms.verify_detached(sig, DATA, trusted=pki.ca.certificate, crl=pki.crl)
        assert reports and all(r.ok for r in reports), [r.errors for r in reports]
    keyid = cms._parse_fast(openssl_signatures[-1]).signers[0]
    assert keyid.issuer is None and keyid.key_id == pki.certificate("finance").subject_key_id and keyid.version == 3


def _mutations() -> Any:
    return st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=255)),
                    min_size=1, max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(min_value=0, max_value=5), changes=_mutations())
def test_whenever_the_strict_reader_accepts_a_mangled_signature_asn1crypto_reads_the_same(
    pki: TestPKI, openssl_signatures: list[bytes], which: int, changes: list[tuple[int, int]]
) -> None:
    base = [cms.sign_detached(DATA, pki.signer("provider"), signing_time=WHEN), *openssl_signatures][which]
    sig = bytearray(base)
    for index, value in changes:
        sig[index % len(sig)] = value
    try:
        fast = cms._parse_fast(bytes(sig))
    except der.DERError:
        return
    assert fast == cms.parse_signed_data(bytes(sig), fast=False)


def _ber(sig: bytes) -> bytes:
    """The same signature with the outer ContentInfo in BER indefinite-length form."""
    tag, s, e = der.read(sig, 0, len(sig))
    return b"\x30\x80" + sig[s:e] + b"\x00\x00"


def test_ber_goes_the_asn1crypto_way_with_the_same_verdicts(pki: TestPKI) -> None:
    sig = cms.sign_detached(DATA, pki.signer("provider"))
    ber = _ber(sig)
    with pytest.raises(der.DERError):
        cms._parse_fast(ber)
    assert cms.parse_signed_data(ber) == cms._parse_fast(sig)
    (r,) = cms.verify_detached(ber, DATA, trusted=pki.ca.certificate, crl=pki.crl)
    assert r.ok
    (r,) = cms.verify_detached(ber, DATA + b"!")
    assert not r.ok and "digest_mismatch" in r.codes


# ---------------------------------------------------------------- tampering the signed attributes


def _resign(pki: TestPKI, role: str, edit: Any, *, key_role: str | None = None) -> bytes:
    """A signature by ``role`` whose signed attributes went through ``edit`` before the key (of ``key_role``) signed them."""
    signer = pki.signer(role)
    key = pki.signer(key_role or role)
    t = cms._template(signer, True, signer.chain, signer.backend)
    attrs = [*t.attributes, cms._attribute(cms._SIGNING_TIME, der.time(WHEN)),
             cms._attribute(cms._MESSAGE_DIGEST, der.tlv(der.OCTET_STRING, signer.backend.digest("streebog256", DATA)))]
    attrs = sorted(edit(attrs))
    signed = b"".join(attrs)
    info = der.tlv(der.SEQUENCE, t.signer_head + der.tlv(0xA0, signed) + t.signature_algorithm
                   + der.tlv(der.OCTET_STRING, key.sign(der.tlv(der.SET, signed))))
    sd = der.tlv(der.SEQUENCE, t.data_head + der.tlv(der.SET, info))
    return der.tlv(der.SEQUENCE, der.oid("1.2.840.113549.1.7.2") + der.tlv(0xA0, sd))


def test_rebuilt_signature_is_sound(pki: TestPKI) -> None:
    (r,) = cms.verify_detached(_resign(pki, "provider", lambda a: a), DATA, trusted=pki.ca.certificate)
    assert r.ok, r.errors


def test_tampered_attribute_or_value_fails(pki: TestPKI) -> None:
    sig = bytearray(cms.sign_detached(DATA, pki.signer("provider"), signing_time=WHEN))
    at = sig.index(b"260304050607Z")
    sig[at + 1] ^= 1  # signingTime 2026 -> 2036, still a well-formed UTCTime
    (r,) = cms.verify_detached(bytes(sig), DATA)
    assert not r.ok and "signature_invalid" in r.codes
    sig = bytearray(cms.sign_detached(DATA, pki.signer("provider"), signing_time=WHEN))
    sig[-1] ^= 0x40  # the signature value
    (r,) = cms.verify_detached(bytes(sig), DATA)
    assert not r.ok and "signature_invalid" in r.codes


def test_duplicate_or_multivalued_attributes_are_malformed(pki: TestPKI) -> None:
    digest = pki.signer("provider").backend.digest("streebog256", DATA)
    md = cms._attribute(cms._MESSAGE_DIGEST, der.tlv(der.OCTET_STRING, digest))
    (r,) = cms.verify_detached(_resign(pki, "provider", lambda a: [*a, md[:-1] + bytes([md[-1] ^ 1])]), DATA)
    assert not r.ok and "malformed" in r.codes
    two = der.tlv(der.SEQUENCE, der.oid(cms._MESSAGE_DIGEST) + der.tlv(der.SET, der.tlv(4, digest) + der.tlv(4, bytes(32))))
    (r,) = cms.verify_detached(_resign(pki, "provider", lambda a: [x for x in a if x != md] + [two]), DATA)
    assert not r.ok and "malformed" in r.codes


def test_signing_certificate_of_another_signer_fails_even_after_a_good_one(pki: TestPKI) -> None:
    good = cms.sign_detached(DATA, pki.signer("finance"))
    assert cms.verify_detached(good, DATA)[0].ok  # the (ESS value, certificate) verdict is now remembered
    finance_ess = cms._template(pki.signer("finance"), True, (), pki.signer("finance").backend).attributes[1]

    def swap(attrs: list[bytes]) -> list[bytes]:
        return [finance_ess if a.startswith(b"\x30") and der.oid(cms._SIGNING_CERTIFICATE_V2) in a else a for a in attrs]

    (r,) = cms.verify_detached(_resign(pki, "provider", swap), DATA)
    assert r.signature_ok and not r.ok and "signing_certificate" in r.codes


def test_key_of_another_signer_fails(pki: TestPKI) -> None:
    (r,) = cms.verify_detached(_resign(pki, "provider", lambda a: a, key_role="finance"), DATA)
    assert not r.ok and "signature_invalid" in r.codes


# ---------------------------------------------------------------- caches keep signers and states apart


def test_template_cache_keeps_signers_and_options_apart(pki: TestPKI) -> None:
    for role in ("provider", "finance", "provider"):
        for cades in (True, False, True):
            sig = cms.sign_detached(DATA, pki.signer(role), cades=cades)
            (r,) = cms.verify_detached(sig, DATA)
            assert r.ok and r.certificate == pki.certificate(role)
            kinds = [k for k, _ in cms._parse_fast(sig).signers[0].attributes]
            assert (cms._SIGNING_CERTIFICATE_V2 in kinds) is cades
    assert len(cms._parse_fast(cms.sign_detached(DATA, pki.signer("provider"), include_chain=False)).certificates) == 1
    assert len(cms._parse_fast(cms.sign_detached(DATA, pki.signer("provider"))).certificates) == 2


def test_trust_store_verdict_follows_revocation_and_certificate(pki: TestPKI) -> None:
    store = TrustStore([pki.ca.certificate], crls=[pki.crl])
    provider = cms.sign_detached(DATA, pki.signer("provider"))
    revoked = cms.sign_detached(DATA, pki.signer("revoked"))
    for _ in range(2):  # the second round is served from the caches
        (r,) = cms.verify_detached(provider, DATA, trust=store)
        assert r.ok and r.chain is not None and r.chain.revocation == "good"
        (r,) = cms.verify_detached(revoked, DATA, trust=store)
        assert r.crypto_ok and not r.ok and r.chain is not None and r.chain.code == "revoked"
    now = datetime.now(UTC)
    later = pki.issue_crl(now - timedelta(minutes=5), now + timedelta(days=1),
                          {**pki.revoked, pki.certificate("provider").serial: now - timedelta(minutes=10)})
    store.set_crls([later])
    (r,) = cms.verify_detached(provider, DATA, trust=store)
    assert r.crypto_ok and not r.ok and r.chain is not None and r.chain.code == "revoked"


def test_openssl_verifies_a_signature_made_after_the_caches_are_warm(pki: TestPKI, pki_dir: Path, tmp_path: Path,
                                                                     openssl: Any) -> None:
    for _ in range(3):
        sig = cms.sign_detached(DATA, pki.signer("provider"))
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "sig").write_bytes(sig)
    proc = openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig", "-content", tmp_path / "data",
                    "-CAfile", pki_dir / "ca.pem", "-out", tmp_path / "out", "-cades"])
    assert isinstance(proc, subprocess.CompletedProcess) and b"Verification successful" in proc.stderr
