"""Machine-readable powers of attorney (МЧД, format 003): parsing and every check, with real GOST signatures.

The МЧД are built in the public format by :mod:`signing.test_power_of_attorney` and signed
by heads whose qualified certificates the session's test CA issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.app.cli import main
from signing import cms
from signing.keys import GostSigner
from signing.power_of_attorney import (
    MOSCOW,
    SIGNING_POWERS,
    PoaCheck,
    PoaFormatError,
    Power,
    RequiredPowers,
    SignatureVerdict,
    check_power_of_attorney,
    parse_power_of_attorney,
)
from signing.test_pki import TestPKI, create_test_pki
from signing.test_power_of_attorney import (
    TEST_HEAD,
    TEST_PRINCIPAL,
    TEST_REPRESENTATIVE,
    TEST_STRANGER,
    Organisation,
    SignedPoa,
    build_poa_xml,
    document_type_restriction,
    issue_person_certificate,
    make_power_of_attorney,
)

TODAY = datetime.now(UTC).astimezone(MOSCOW).date()
NOW = datetime.now(UTC)
SIGN = RequiredPowers(tuple(SIGNING_POWERS))
OTHER_ORG = Organisation("АНО «Другая организация»", "5703000009", "570301001", "1225700000096")


class People:
    def __init__(self, pki: TestPKI) -> None:
        self.pki = pki
        self.head = issue_person_certificate(pki.ca, TEST_HEAD, organisation=TEST_PRINCIPAL)
        self.representative = issue_person_certificate(pki.ca, TEST_REPRESENTATIVE)
        self.stranger = issue_person_certificate(pki.ca, TEST_STRANGER)


@pytest.fixture(scope="module")
def people(pki: TestPKI) -> People:
    return People(pki)


def poa(signer: GostSigner, **fields: object) -> SignedPoa:
    """An МЧД for the test principal, valid from 30 days ago for a year, signed by ``signer``."""
    dates: dict[str, object] = {"issued_on": TODAY - timedelta(days=30), "valid_until": TODAY + timedelta(days=365)}
    return make_power_of_attorney(signer, **{**dates, **fields})  # type: ignore[arg-type]


def judge(
    people: People,
    signed: SignedPoa,
    *,
    signer: GostSigner | None = None,
    inn: str | None = TEST_PRINCIPAL.inn,
    ogrn: str | None = TEST_PRINCIPAL.ogrn,
    at: datetime = NOW,
    required: RequiredPowers = SIGN,
    revoked_at: datetime | None = None,
    xml: bytes | None = None,
) -> PoaCheck:
    data = signed.xml if xml is None else xml
    verdict = SignatureVerdict.from_reports(
        cms.verify_detached(signed.signature, data, trusted=people.pki.ca.certificate, crl=people.pki.crl)
    )
    return check_power_of_attorney(
        parse_power_of_attorney(data), signer=(signer or people.representative).certificate, organisation_inn=inn,
        organisation_ogrn=ogrn, at=at, required=required, signature=verdict, revoked_at=revoked_at,
    )  # fmt: skip


def codes(check: PoaCheck) -> list[str]:
    return [f.code for f in check.failures]


# --------------------------------------------------------------------------- parsing
def test_the_format_is_parsed_into_the_model(people: People) -> None:
    signed = poa(people.head, number="C61A40DF-D38F-4800-9BA4-61A2DF016993")
    parsed = parse_power_of_attorney(signed.xml)
    assert parsed.number == "c61a40df-d38f-4800-9ba4-61a2df016993"
    assert (parsed.issued_on, parsed.valid_until) == (TODAY - timedelta(days=30), TODAY + timedelta(days=365))
    assert parsed.revocable and parsed.transfer == "none" and not parsed.joint_powers
    p = parsed.principal
    assert (p.name, p.inn, p.kpp, p.ogrn) == (TEST_PRINCIPAL.name, TEST_PRINCIPAL.inn, TEST_PRINCIPAL.kpp, TEST_PRINCIPAL.ogrn)
    (head,) = p.heads
    assert (head.snils, head.inn, head.surname, head.position) == ("98765432183", "570200000359", "Сидоров", "Директор")
    rep = parsed.representative
    assert (rep.snils, rep.inn, rep.full_name) == ("13579246894", "570212345654", "Кузнецова Ольга Викторовна")
    assert [(x.code, x.name) for x in parsed.powers] == list(SIGNING_POWERS.items())
    assert "98765432183" not in repr(parsed)  # personal data stays out of reprs


@settings(max_examples=40, deadline=None)
@given(
    issued=st.dates(date(2023, 9, 1), date(2090, 1, 1)),
    days=st.integers(0, 3650),
    powers=st.lists(st.tuples(st.from_regex(r"[A-Z][A-Z0-9_.]{5,40}", fullmatch=True),
                              st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn", "Co")), min_size=1,
                                      max_size=60).map(str.strip).filter(bool)),
                    max_size=5, unique_by=lambda p: p[0]),
)  # fmt: skip
def test_what_is_built_is_what_is_parsed(issued: date, days: int, powers: list[tuple[str, str]]) -> None:
    xml = build_poa_xml(issued_on=issued, valid_until=issued + timedelta(days=days), powers=[Power(c, n) for c, n in powers])
    parsed = parse_power_of_attorney(xml)
    assert (parsed.issued_on, parsed.valid_until) == (issued, issued + timedelta(days=days))
    assert [(p.code, p.name) for p in parsed.powers] == powers


XXE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Доверенность [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    '<Доверенность xmlns="urn://x-artefacts/EMCHD_1" ВерсФорм="EMCHD_1"><Документ>&xxe;</Документ></Доверенность>'
).encode()
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b"<lolz>&lol2;</lolz>"
)


def _valid() -> bytes:
    return build_poa_xml(issued_on=TODAY, valid_until=TODAY + timedelta(days=1), number="c61a40df-d38f-4800-9ba4-61a2df016993")


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"", "poa_malformed", "пуста"),
        (b"not xml at all", "poa_malformed", "XML"),
        (XXE, "poa_malformed", "DOCTYPE"),
        (LAUGHS, "poa_malformed", "DOCTYPE"),
        ("<Файл/>".encode(), "poa_malformed", "корневой элемент"),
        (_valid().replace(b"urn://x-artefacts/EMCHD_1", b"urn:other"), "poa_malformed", "пространстве имён"),
        (_valid().replace(b'"EMCHD_1"', b'"002"'), "poa_malformed", "версия формата"),
        (_valid().replace("ДатаВыдДовер=\"".encode(), "ДатаВыдДовер=\"x".encode()), "poa_malformed", "дата"),
        (_valid().replace("НомДовер=\"c61a40df".encode(), "НомДовер=\"X61a40df".encode()), "poa_malformed", "UUID"),
        (_valid().replace("СвДов ".encode(), "СвДовX ".encode()).replace("</СвДов>".encode(), "</СвДовX>".encode()),
         "poa_malformed", "СвДов"),
        (_valid().replace("СНИЛС=\"135-792-468 94\"".encode(), "СНИЛС=\"135\"".encode()), "poa_malformed", "СНИЛС"),
        (_valid().replace("<Довер>".encode(), "<Передов/><Довер>".encode()), "poa_unsupported", "передовер"),
        (_valid().replace("ТипДоверит=\"1\"".encode(), "ТипДоверит=\"4\"".encode()), "poa_unsupported", "организаций"),
        (_valid().replace("ТипПред=\"3\"".encode(), "ТипПред=\"1\"".encode()), "poa_unsupported", "физическое лицо"),
        (_valid() + b" " * 1_000_001, "poa_malformed", "КБ"),
    ],
)  # fmt: skip
def test_what_is_not_an_mchd_is_refused_with_a_reason(data: bytes, code: str, words: str) -> None:
    with pytest.raises(PoaFormatError) as caught:
        parse_power_of_attorney(data)
    assert caught.value.code == code and words in caught.value.message


def test_the_signed_file_is_the_file_parsed_not_an_entity_expansion(people: People) -> None:
    """XXE never reaches the checks: the file with a DOCTYPE is refused before anything is read from it."""
    with pytest.raises(PoaFormatError, match="DOCTYPE"):
        parse_power_of_attorney(XXE)


# --------------------------------------------------------------------------- the checks
def test_a_valid_poa_lets_the_representative_sign(people: People) -> None:
    check = judge(people, poa(people.head))
    assert check.ok and check.failures == ()
    assert check.power is not None and check.power.code == "KLASS_2.0_SIGN_DIG_DOC"  # the first one preferred


def test_the_principal_must_be_the_acting_organisation(people: People) -> None:
    signed = poa(people.head)
    assert codes(judge(people, signed, inn=OTHER_ORG.inn)) == ["poa_principal_mismatch"]
    assert codes(judge(people, signed, ogrn=OTHER_ORG.ogrn)) == ["poa_principal_mismatch"]
    assert codes(judge(people, signed, inn=None)) == ["poa_principal_mismatch"]
    assert judge(people, signed, ogrn=None).ok  # a party known by INN only


def test_another_organisations_poa_does_not_count(people: People) -> None:
    other_head = issue_person_certificate(people.pki.ca, TEST_STRANGER, organisation=OTHER_ORG)
    signed = poa(other_head, principal=OTHER_ORG, head=TEST_STRANGER)
    assert codes(judge(people, signed)) == ["poa_principal_mismatch"]
    assert judge(people, signed, inn=OTHER_ORG.inn, ogrn=OTHER_ORG.ogrn).ok


def test_the_signer_must_be_the_representative(people: People) -> None:
    signed = poa(people.head)
    assert codes(judge(people, signed, signer=people.stranger)) == ["poa_representative_mismatch"]
    # The same SNILS but another INN, and the same INN but another SNILS: both must match.
    for twin in (replace(TEST_REPRESENTATIVE, inn=TEST_STRANGER.inn), replace(TEST_REPRESENTATIVE, snils=TEST_STRANGER.snils)):
        cert = issue_person_certificate(people.pki.ca, twin)
        assert codes(judge(people, signed, signer=cert)) == ["poa_representative_mismatch"]


def test_one_of_several_representatives_signs_unless_powers_are_joint(people: People) -> None:
    both = (TEST_STRANGER, TEST_REPRESENTATIVE)
    assert judge(people, poa(people.head, representatives=both)).ok
    assert codes(judge(people, poa(people.head, representatives=both, joint=True))) == ["poa_joint_powers"]


def test_the_validity_dates_cover_the_moment_of_signing(people: People) -> None:
    issued, until = date(2026, 3, 1), date(2026, 3, 31)
    signed = poa(people.head, issued_on=issued, valid_until=until)

    def at_msk(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MOSCOW)

    assert judge(people, signed, at=at_msk(issued, 0, 1)).ok
    assert judge(people, signed, at=at_msk(until, 23, 59)).ok  # the last day, in Moscow time
    assert codes(judge(people, signed, at=at_msk(issued - timedelta(days=1), 23, 59))) == ["poa_not_yet_valid"]
    assert codes(judge(people, signed, at=at_msk(until + timedelta(days=1), 0, 1))) == ["poa_expired"]
    # 22:30 UTC on the last day is already the next day in Moscow.
    assert codes(judge(people, signed, at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC))) == ["poa_expired"]


def test_the_powers_must_include_the_action(people: People) -> None:
    contract = RequiredPowers(("KLASS_2.0_SIGN",), {"LIM_01": frozenset({"LIM_01_15"})})
    only_torg12 = Power("KLASS_2.0_SIGN", "Подписывать",
                        restrictions=(document_type_restriction("LIM_01_04", "Товарная накладная по форме ТОРГ-12"),))
    contracts = Power("KLASS_2.0_SIGN", "Подписывать", restrictions=(document_type_restriction("LIM_01_15", "Договор"),))
    other = Power("2_FNS02", "Представлять налоговую декларацию, другую отчетность")  # fmt: skip
    check = judge(people, poa(people.head, powers=[other]))
    assert codes(check) == ["poa_power_missing"] and "KLASS_2.0_SIGN_DIG_DOC" in check.failures[0].message
    assert codes(judge(people, poa(people.head, powers=[only_torg12]), required=contract)) == ["poa_power_missing"]
    assert codes(judge(people, poa(people.head, powers=[contracts]), required=SIGN)) == ["poa_power_missing"]
    used = judge(people, poa(people.head, powers=[other, contracts]), required=contract)
    assert used.ok and used.power == contracts
    text_only = judge(people, poa(people.head, powers=[], text_powers="Подписывать любые документы"))
    assert codes(text_only) == ["poa_power_missing"] and "текстовые" in text_only.failures[0].message
    assert codes(judge(people, poa(people.head), required=RequiredPowers(()))) == ["poa_power_missing"]


def test_the_poa_signature_must_be_valid(people: People) -> None:
    signed = poa(people.head)
    tampered = signed.xml.replace(str(TODAY + timedelta(days=365)).encode(), str(TODAY + timedelta(days=3650)).encode())
    assert tampered != signed.xml
    assert codes(judge(people, signed, xml=tampered)) == ["poa_signature_invalid"]
    # A head certificate from a CA the verifier does not trust.
    foreign = create_test_pki()
    alien = issue_person_certificate(foreign.ca, TEST_HEAD, organisation=TEST_PRINCIPAL)
    assert codes(judge(people, poa(alien))) == ["poa_signature_invalid"]
    # A head certificate without a class of qualified signature tool.
    plain = issue_person_certificate(people.pki.ca, TEST_HEAD, organisation=TEST_PRINCIPAL, policies=())
    assert codes(judge(people, poa(plain))) == ["poa_signature_invalid"]


def test_the_poa_is_signed_by_the_principals_head(people: People) -> None:
    assert codes(judge(people, poa(people.representative))) == ["poa_not_by_head"]  # signed by the representative
    personal = issue_person_certificate(people.pki.ca, TEST_HEAD)  # the head, but a personal certificate
    assert codes(judge(people, poa(personal))) == ["poa_not_by_head"]
    other_org = issue_person_certificate(people.pki.ca, TEST_HEAD, organisation=OTHER_ORG)  # head of another org
    assert codes(judge(people, poa(other_org))) == ["poa_not_by_head"]
    impostor = issue_person_certificate(people.pki.ca, TEST_STRANGER, organisation=TEST_PRINCIPAL)
    assert codes(judge(people, poa(impostor))) == ["poa_not_by_head"]
    for org in (replace(TEST_PRINCIPAL, inn=OTHER_ORG.inn), replace(TEST_PRINCIPAL, ogrn=OTHER_ORG.ogrn)):  # INNLE and OGRN
        assert codes(judge(people, poa(issue_person_certificate(people.pki.ca, TEST_HEAD, organisation=org)))) == [
            "poa_not_by_head"]


def test_a_revoked_poa_does_not_count_from_its_revocation(people: People) -> None:
    signed = poa(people.head)
    assert codes(judge(people, signed, revoked_at=NOW - timedelta(minutes=1))) == ["poa_revoked"]
    assert codes(judge(people, signed, revoked_at=NOW)) == ["poa_revoked"]
    assert judge(people, signed, revoked_at=NOW + timedelta(days=1)).ok  # signed before it was revoked


def test_every_failure_is_reported(people: People) -> None:
    signed = poa(people.representative, powers=[], text_powers="всё")
    check = judge(people, signed, signer=people.stranger, inn=OTHER_ORG.inn, at=NOW + timedelta(days=400),
                  revoked_at=NOW)  # fmt: skip
    assert codes(check) == ["poa_not_by_head", "poa_revoked", "poa_principal_mismatch", "poa_representative_mismatch",
                            "poa_expired", "poa_power_missing"]  # fmt: skip
    assert all("98765432183" not in f.message and "Кузнецова" not in f.message for f in check.failures)


# --------------------------------------------------------------------------- gateway verify --poa
def _files(tmp: Path, people: People, signed: SignedPoa, signer: GostSigner) -> Mapping[str, Path]:
    files = {"doc": tmp / "doc.xml", "sig": tmp / "doc.sig", "poa": tmp / "poa.xml", "poa_sig": tmp / "poa.xml.sig",
             "ca": tmp / "ca.pem"}  # fmt: skip
    files["doc"].write_bytes(b"<D>document</D>")
    files["sig"].write_bytes(cms.sign_detached(b"<D>document</D>", signer))
    files["poa"].write_bytes(signed.xml)
    files["poa_sig"].write_bytes(signed.signature)
    files["ca"].write_bytes(people.pki.ca.certificate.pem)
    return files


def _verify(files: Mapping[str, Path], *extra: str) -> int:
    return main(["verify", str(files["sig"]), "--content", str(files["doc"]), "--trusted", str(files["ca"]),
                 "--poa", str(files["poa"]), "--poa-signature", str(files["poa_sig"]), *extra])  # fmt: skip


def test_cli_reports_the_signer_the_principal_and_the_power(
    people: People, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = poa(people.head)
    assert _verify(_files(tmp_path, people, signed, people.representative)) == 0
    out = capsys.readouterr().out
    assert "ПОДПИСЬ ВЕРНА [valid]" in out and "СНИЛС: 13579246894" in out  # the signer
    assert f"МЧД {signed.number}" in out and f"Доверитель: {TEST_PRINCIPAL.name}, ИНН 5702000032" in out
    assert "KLASS_2.0_SIGN_DIG_DOC «Подписывать электронные документы» [poa_power]" in out
    assert "[poa_ok]" in out and "[ok]" in out


def test_cli_reports_the_reason_of_refusal(people: People, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _files(tmp_path, people, poa(people.head), people.stranger)
    assert _verify(files) == 1
    out = capsys.readouterr().out
    assert "[poa_representative_mismatch]" in out and "[poa_failed]" in out and "[failed]" in out
    assert _verify(files, "--poa-power", "2_FNS02") == 1
    assert "[poa_power_missing]" in capsys.readouterr().out
    files["poa"].write_bytes(XXE)
    assert _verify(files) == 1
    assert "[poa_malformed]" in capsys.readouterr().out
