"""The Ministry's list of accredited CAs: parsing, anchors, the accreditation rule, the list's signature."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from signing import oids
from signing.backend import Backend
from signing.keys import GostSigner
from signing.test_pki import TestPKI, issue_certificate
from signing.test_tsl import ListedCA, TestTSL, build_list, create_test_tsl, sign_list
from signing.trust_list import (
    AccreditationPeriod,
    TrustListError,
    load_imported,
    parse_trusted_list,
    stored_path,
)

MSK = timezone(timedelta(hours=3))
DS = "{" + oids.DS_NS + "}"


@pytest.fixture(scope="module")
def tsl() -> TestTSL:
    return create_test_tsl()


def ca_thumb(der: bytes) -> str:
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(exc: pytest.ExceptionInfo[TrustListError], code: str, fragment: str = "") -> None:
    assert exc.value.code == code
    assert re.search("[а-яё]", exc.value.message), exc.value.message  # the message is for people, in Russian
    assert fragment in exc.value.message
    assert f"[{code}]" in str(exc.value)


# --- parsing -----------------------------------------------------------------------


def test_parses_cas_statuses_and_certificates(tsl: TestTSL) -> None:
    parsed = parse_trusted_list(tsl.xml)
    assert parsed.version == 1 and parsed.issued is not None and parsed.warnings == ()
    closed, suspended = parsed.cas
    assert (closed.inn, closed.ogrn, closed.registry_number) == ("5700000101", "1025700000101", "901")
    assert closed.short_name == "ООО «Закрытый УЦ (тест)»" and "Закрытый удостоверяющий центр" in closed.name
    assert closed.status == "Прекращена" and closed.status_since == tsl.dates["closed_end"]
    assert closed.periods == (AccreditationPeriod(tsl.dates["closed_start"], tsl.dates["closed_end"]),)
    assert suspended.periods == (
        AccreditationPeriod(tsl.dates["suspended_start"], tsl.dates["suspended_from"]),
        AccreditationPeriod(tsl.dates["restored"], None),
    )
    assert [e.status for e in suspended.history] == ["Действует", "Приостановлена", "Действует"]
    assert not closed.active and suspended.active and parsed.active_count == 1
    assert closed.certificates == (tsl.cas["closed"].certificate,)
    assert closed.crl_urls == ("http://uc.example.invalid/closed.crl",)
    assert closed.keys[0].key_id == tsl.cas["closed"].certificate.subject_key_id.hex().upper()  # type: ignore[union-attr]
    assert closed.keys[0].complex_alias == "ПАК 1"
    summary = parsed.summary()
    assert summary | {"sha256": None} == {
        "version": 1, "date": parsed.issued.isoformat(), "cas": 2, "active": 1, "certificates": 2, "warnings": 0,
        "signature": "absent", "signer": None, "sha256": None,
    }  # fmt: skip
    assert parse_trusted_list(tsl.signed).summary()["signature"] == "not_checked"


def test_reads_the_real_layout_written_by_hand(tsl: TestTSL) -> None:
    """The element names as public parsers of the real file read them; a date without a zone is Moscow time."""
    ca = tsl.cas["closed"].certificate
    b64 = base64.b64encode(ca.der).decode()
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<АккредитованныеУдостоверяющиеЦентры xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Версия>16326</Версия>
  <Дата>2024-05-01T10:00:00.123+03:00</Дата>
  <УдостоверяющийЦентр>
    <Название>АО «Пример»</Название>
    <КраткоеНазвание>АО «Пример»</КраткоеНазвание>
    <ПрограммноАппаратныеКомплексы>
      <ПрограммноАппаратныйКомплекс>
        <Псевдоним>ПАК «Основной»</Псевдоним>
        <КлючиУполномоченныхЛиц>
          <Ключ>
            <ИдентификаторКлюча>AB01</ИдентификаторКлюча>
            <АдресаСписковОтзыва><Адрес>http://a.example/1.crl</Адрес><Адрес>http://b.example/1.crl</Адрес></АдресаСписковОтзыва>
            <Сертификаты>
              <ДанныеСертификата>
                <Отпечаток>{ca_thumb(ca.der)}</Отпечаток>
                <КемВыдан>CN=x</КемВыдан><КомуВыдан>CN=y</КомуВыдан><СерийныйНомер>01</СерийныйНомер>
                <ПериодДействияС>2020-01-01T00:00:00Z</ПериодДействияС><ПериодДействияДо>2030-01-01T00:00:00Z</ПериодДействияДо>
                <Данные>
{b64[:64]}
{b64[64:]}</Данные>
              </ДанныеСертификата>
            </Сертификаты>
          </Ключ>
        </КлючиУполномоченныхЛиц>
      </ПрограммноАппаратныйКомплекс>
    </ПрограммноАппаратныеКомплексы>
    <ИНН>77<!-- a comment is not data -->01234567</ИНН>
    <ОГРН>1027700000000</ОГРН>
    <РеестровыйНомер>123</РеестровыйНомер>
    <СтатусАккредитации><Статус>Действует</Статус><ДействуетС>2019-07-01T00:00:00</ДействуетС></СтатусАккредитации>
    <ИсторияСтатусовАккредитации>
      <СтатусАккредитации><Статус>Действует</Статус><ДействуетС>2019-07-01T00:00:00</ДействуетС></СтатусАккредитации>
    </ИсторияСтатусовАккредитации>
  </УдостоверяющийЦентр>
</АккредитованныеУдостоверяющиеЦентры>""".encode()
    parsed = parse_trusted_list(xml)
    assert parsed.version == 16326 and parsed.issued == datetime(2024, 5, 1, 7, 0, 0, 123000, tzinfo=UTC)
    [ca_entry] = parsed.cas
    assert ca_entry.inn == "7701234567" and ca_entry.periods == (AccreditationPeriod(datetime(2019, 7, 1, tzinfo=MSK)),)
    assert len(ca_entry.history) == 1  # the current status repeats the history's last entry: kept once
    assert ca_entry.certificates == (ca,) and ca_entry.crl_urls == ("http://a.example/1.crl", "http://b.example/1.crl")
    assert ca_entry.keys[0].complex_alias == "ПАК «Основной»" and parsed.warnings == ()


def test_a_broken_certificate_is_skipped_with_a_warning(tsl: TestTSL) -> None:
    now = _now()
    good = tsl.cas["closed"].certificate
    xml = build_list(
        [ListedCA("УЦ с мусором", "5700000303", "1025700000303", "903", (("Действует", now - timedelta(days=9)),),
                  certificates=(b"\x30\x03not a certificate", good))],
        date=now,
    )  # fmt: skip
    parsed = parse_trusted_list(xml)
    assert parsed.cas[0].certificates == (good,) and parsed.anchors == [good]
    assert len(parsed.warnings) == 1 and "УЦ с мусором" in parsed.warnings[0] and "пропущен" in parsed.warnings[0]


def test_unknown_status_word_ends_accreditation_and_is_reported(tsl: TestTSL) -> None:
    t = _now()
    xml = build_list(
        [ListedCA("УЦ со странным статусом", "1", "2", "3",
                  (("Действует", t - timedelta(days=10)), ("Отозвана Луной", t - timedelta(days=5))))],
        date=t,
    )  # fmt: skip
    parsed = parse_trusted_list(xml)
    assert parsed.cas[0].periods == (AccreditationPeriod(t - timedelta(days=10), t - timedelta(days=5)),)
    assert any("Отозвана Луной" in w for w in parsed.warnings)


def test_thumbprint_mismatch_is_a_warning(tsl: TestTSL) -> None:
    real = ca_thumb(tsl.cas["closed"].certificate.der)
    xml = tsl.xml.replace(real.encode(), b"00" * 20)
    parsed = parse_trusted_list(xml)
    assert parsed.cas[0].certificates and any("отпечаток" in w for w in parsed.warnings)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["Действует", "Прекращена", "Приостановлена", "Аннулирована"]), st.integers(0, 30)),
        min_size=1, max_size=8,
    ),
    st.integers(-1, 31),
)  # fmt: skip
def test_accredited_at_follows_the_latest_status(history: list[tuple[str, int]], probe: int) -> None:
    """Accredited at a moment ⇔ the latest status begun by then is «Действует» (ties: the later entry wins)."""
    base = datetime(2022, 1, 1, tzinfo=MSK)
    entries = tuple((status, base + timedelta(days=d)) for status, d in history)
    parsed = parse_trusted_list(build_list([ListedCA("УЦ", "1", "2", "3", entries)], date=base))
    moment = base + timedelta(days=probe)
    begun = [status for status, since in sorted(entries, key=lambda e: e[1]) if since <= moment]
    assert parsed.cas[0].accredited_at(moment) == (bool(begun) and begun[-1] == "Действует")


# --- not a list, hostile XML ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not xml at all", "tsl_malformed"),
        (b"<TrustServiceStatusList xmlns='http://uri.etsi.org/02231/v2#'/>", "tsl_not_a_list"),
        ("<x:АккредитованныеУдостоверяющиеЦентры xmlns:x='urn:x'/>".encode(), "tsl_not_a_list"),
        ("<АккредитованныеУдостоверяющиеЦентры><Версия>1</Версия></АккредитованныеУдостоверяющиеЦентры>".encode(), "tsl_empty"),
    ],
)
def test_a_file_that_is_not_a_list_is_refused(data: bytes, code: str) -> None:
    with pytest.raises(TrustListError) as exc:
        parse_trusted_list(data)
    _refused(exc, code)


def test_entities_and_dtd_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("СЕКРЕТ")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<АккредитованныеУдостоверяющиеЦентры><УдостоверяющийЦентр><Название>&x;</Название>"
        "</УдостоверяющийЦентр></АккредитованныеУдостоверяющиеЦентры>"
    ).encode()
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l "ха"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;">'
        '<!ENTITY l3 "&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;">]>'
        "<АккредитованныеУдостоверяющиеЦентры><УдостоверяющийЦентр><Название>&l3;</Название>"
        "</УдостоверяющийЦентр></АккредитованныеУдостоверяющиеЦентры>"
    ).encode()
    for data in (xxe, laughs):
        with pytest.raises(TrustListError) as exc:
            parse_trusted_list(data)
        _refused(exc, "tsl_unsafe_xml", "DOCTYPE")
        assert "СЕКРЕТ" not in exc.value.message


# --- anchors and the accreditation rule ----------------------------------------------


def test_anchors_are_the_listed_ca_certificates(tsl: TestTSL) -> None:
    parsed = parse_trusted_list(tsl.xml)
    assert {c.der for c in parsed.anchors} == {tsl.cas["closed"].certificate.der, tsl.cas["suspended"].certificate.der}
    assert parsed.ca_for(tsl.head.certificate) is None and parsed.ca_for(tsl.user("closed_during")) is None
    # the same CA key re-certified (same subject and key, new certificate) still names the listed CA
    ca = tsl.cas["suspended"]
    again = issue_certificate(tsl.head, ca.key, ca.certificate.subject, not_before=_now() - timedelta(days=1),
                              not_after=_now() + timedelta(days=30), ca=True)  # fmt: skip
    assert again.der != ca.certificate.der
    assert parsed.ca_for(again) is parsed.cas[1]


@pytest.mark.parametrize(
    ("role", "verdict"),
    [("closed_during", None), ("closed_after", "ca_not_accredited_at_issue"),
     ("suspended_during", "ca_not_accredited_at_issue"), ("suspended_after", None)],
)  # fmt: skip
def test_the_issuing_ca_must_have_been_accredited_at_issue(tsl: TestTSL, role: str, verdict: str | None) -> None:
    parsed = parse_trusted_list(tsl.signed, signer=tsl.ministry.certificate)
    ca_role = role.split("_")[0]
    path = [tsl.user(role), tsl.cas[ca_role].certificate, tsl.head.certificate]
    result = parsed.anchor_check(path, _now())  # checked today, after the closed CA's accreditation ended
    if verdict is None:
        assert result is None
        return
    assert result is not None
    code, message = result
    assert code == verdict
    ca = parsed.cas[0 if ca_role == "closed" else 1]
    issued = tsl.user(role).not_before.astimezone(MSK)
    assert ca.name in message and "ИНН 570000" in message and f"{issued:%d.%m.%Y}" in message
    assert "не был аккредитован" in message and ca.periods_text() in message


def test_paths_without_a_listed_ca_are_not_checked(tsl: TestTSL, pki: TestPKI) -> None:
    parsed = parse_trusted_list(tsl.xml)
    assert parsed.anchor_check([pki.certificate("provider"), pki.ca.certificate], _now()) is None
    assert parsed.anchor_check([tsl.cas["closed"].certificate], _now()) is None  # an anchor alone
    assert parsed.anchor_check([], _now()) is None


def test_period_boundaries() -> None:
    start, end = datetime(2023, 1, 1, tzinfo=MSK), datetime(2024, 1, 1, tzinfo=MSK)
    p = AccreditationPeriod(start, end)
    assert p.contains(start) and not p.contains(end) and not p.contains(start - timedelta(seconds=1))
    assert AccreditationPeriod(start).contains(datetime(2100, 1, 1, tzinfo=UTC))
    assert p.text() == "с 01.01.2023 по 01.01.2024"


# --- the list's own signature --------------------------------------------------------


def test_signed_list_verifies_with_the_signer_or_its_issuer(tsl: TestTSL) -> None:
    for configured in (tsl.ministry.certificate, tsl.head.certificate, [tsl.cas["closed"].certificate, tsl.head.certificate]):
        parsed = parse_trusted_list(tsl.signed, signer=configured)
        assert parsed.signed_by == tsl.ministry.certificate and parsed.summary()["signature"] == "verified"
        assert len(parsed.cas) == 2


def test_unsigned_list_is_refused_when_a_signer_is_configured(tsl: TestTSL) -> None:
    with pytest.raises(TrustListError) as exc:
        parse_trusted_list(tsl.xml, signer=tsl.ministry.certificate)
    _refused(exc, "tsl_signature_invalid", "не подписан")


@pytest.mark.parametrize(
    "change",
    [
        ("<ИНН>5700000101</ИНН>", "<ИНН>5700000999</ИНН>"),
        ("<Статус>Прекращена</Статус>", "<Статус>Действует</Статус>"),
        ("</Название>", "</Название> "),  # whitespace between elements is signed data too
    ],
)
def test_tampered_list_is_refused(tsl: TestTSL, change: tuple[str, str]) -> None:
    old, new = (s.encode() for s in change)
    assert old in tsl.signed
    tampered = tsl.signed.replace(old, new, 1)
    with pytest.raises(TrustListError) as exc:
        parse_trusted_list(tampered, signer=tsl.ministry.certificate)
    _refused(exc, "tsl_signature_invalid", "изменено")


def test_comments_are_not_signed_data(tsl: TestTSL) -> None:
    """A comment added inside an element changes neither the digest (c14n without comments) nor what is read."""
    commented = tsl.signed.replace("<ИНН>5700000101".encode(), "<ИНН>57000<!--x-->00101".encode(), 1)
    assert commented != tsl.signed
    parsed = parse_trusted_list(commented, signer=tsl.ministry.certificate)
    assert parsed.cas[0].inn == "5700000101"


def test_wrong_signer_and_damaged_signature_are_refused(tsl: TestTSL, pki: TestPKI) -> None:
    with pytest.raises(TrustListError) as exc:
        parse_trusted_list(tsl.signed, signer=pki.ca.certificate)
    _refused(exc, "tsl_signature_invalid", "не тем сертификатом")
    root = etree.fromstring(tsl.signed)
    value = root.find(f"{DS}Signature/{DS}SignatureValue")
    assert value is not None and value.text
    raw = bytearray(base64.b64decode(value.text))
    raw[5] ^= 1
    value.text = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(TrustListError) as exc:
        parse_trusted_list(etree.tostring(root, encoding="UTF-8"), signer=tsl.ministry.certificate)
    _refused(exc, "tsl_signature_invalid", "SignatureValue")


def test_a_list_signed_by_someone_else_is_refused(tsl: TestTSL, pki: TestPKI) -> None:
    """A valid signature by a key that is neither the configured signer nor issued by it."""
    key = pki.ca.backend.generate(32, "A")
    outsider = issue_certificate(pki.ca, key, {"CN": "Посторонний подписант"}, not_before=_now() - timedelta(days=30),
                                 not_after=_now() + timedelta(days=30))  # fmt: skip
    resigned = sign_list(tsl.xml, GostSigner(key, outsider, backend=pki.ca.backend))
    assert parse_trusted_list(resigned, signer=outsider).signed_by == outsider
    assert parse_trusted_list(resigned, signer=pki.ca.certificate).signed_by == outsider
    with pytest.raises(TrustListError) as exc:
        parse_trusted_list(resigned, signer=tsl.head.certificate)
    _refused(exc, "tsl_signature_invalid", "не тем сертификатом")


def test_signer_certificate_must_be_valid_on_the_list_date(tsl: TestTSL) -> None:
    """The same signed content dated before the Ministry's certificate began."""
    early = build_list(tsl.listed, date=tsl.ministry.certificate.not_before - timedelta(days=1))
    with pytest.raises(TrustListError) as exc:
        parse_trusted_list(sign_list(early, tsl.ministry), signer=tsl.ministry.certificate)
    _refused(exc, "tsl_signature_invalid", "не действовал на дату списка")


def test_signature_must_cover_the_whole_list(tsl: TestTSL) -> None:
    root = etree.fromstring(tsl.signed)
    ref = root.find(f"{DS}Signature/{DS}SignedInfo/{DS}Reference")
    assert ref is not None
    ref.set("URI", "#part")
    with pytest.raises(TrustListError) as exc:
        parse_trusted_list(etree.tostring(root, encoding="UTF-8"), signer=tsl.ministry.certificate)
    _refused(exc, "tsl_signature_invalid", "весь список")
    root = etree.fromstring(tsl.signed)
    sig = root.find(f"{DS}Signature")
    assert sig is not None
    root.append(etree.fromstring(etree.tostring(sig)))
    with pytest.raises(TrustListError) as exc:
        parse_trusted_list(etree.tostring(root, encoding="UTF-8"), signer=tsl.ministry.certificate)
    _refused(exc, "tsl_signature_invalid", "ожидается одна")


def test_nothing_is_read_from_inside_the_signature(tsl: TestTSL) -> None:
    """The signature moved into a CA with an extra certificate in ds:Object: the digest still matches
    (the enveloped transform removes the signature wherever it is), but the extra certificate is not read."""
    evil = tsl.users["closed_after"].certificate
    root = etree.fromstring(tsl.signed)
    sig = root.find(f"{DS}Signature")
    assert sig is not None
    root.remove(sig)
    obj = etree.SubElement(sig, DS + "Object")
    data = etree.SubElement(etree.SubElement(obj, "Сертификаты"), "ДанныеСертификата")
    etree.SubElement(data, "Данные").text = base64.b64encode(evil.der).decode()
    first_ca = root.find("УдостоверяющийЦентр")
    assert first_ca is not None
    first_ca.append(sig)
    parsed = parse_trusted_list(etree.tostring(root, encoding="UTF-8"), signer=tsl.ministry.certificate)
    assert parsed.signed_by is not None
    assert evil.der not in {c.der for c in parsed.anchors} and len(parsed.anchors) == 2


# --- the stored list ---------------------------------------------------------------------


def test_load_imported(tsl: TestTSL, tmp_path: Path) -> None:
    assert load_imported(tmp_path) is None
    path = stored_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(tsl.signed)
    loaded = load_imported(tmp_path, signer=tsl.head.certificate)
    assert loaded is not None and loaded.signed_by == tsl.ministry.certificate and len(loaded.anchors) == 2
    path.write_bytes(tsl.xml)
    with pytest.raises(TrustListError):
        load_imported(tmp_path, signer=tsl.head.certificate)


def test_plugs_into_the_trust_store(tsl: TestTSL) -> None:
    """The list's anchors and check as :class:`signing.trust_store.TrustStore` uses them."""
    from signing.trust_store import TrustStore

    parsed = parse_trusted_list(tsl.signed, signer=tsl.head.certificate)
    store = TrustStore(parsed.anchors, anchor_check=parsed.anchor_check)
    assert store.validate(tsl.user("closed_during")).ok
    assert store.validate(tsl.user("suspended_after")).ok
    refused = store.validate(tsl.user("closed_after"))
    assert not refused.ok and refused.code == "ca_not_accredited_at_issue" and "не был аккредитован" in refused.message
    assert store.validate(tsl.user("suspended_during")).code == "ca_not_accredited_at_issue"


def test_signature_verifies_on_the_pure_python_backend(tsl: TestTSL, pyback: Backend) -> None:
    parsed = parse_trusted_list(tsl.signed, signer=tsl.head.certificate, backend=pyback)
    assert parsed.signed_by == tsl.ministry.certificate
    with pytest.raises(TrustListError):
        parse_trusted_list(tsl.signed.replace("<ИНН>5700000101".encode(), "<ИНН>5700000102".encode()),
                           signer=tsl.ministry.certificate, backend=pyback)  # fmt: skip
