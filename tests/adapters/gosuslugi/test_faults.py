"""SOAP faults and async rejections → TransientError / PermanentError (no I/O)."""

from __future__ import annotations

import pytest
from lxml import etree

from adapters.base import PermanentError, TransientError
from adapters.gosuslugi import faults

# the shape of a real SMEV fault (a sample published with the open-source Smev3Sharp client:
# SoapFaultResponse_SignatureVerificationFault.xml)
REAL = """<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>
<faultcode>soap:Server</faultcode><faultstring>Срок действия сертификата ЭП-ОВ истёк</faultstring><detail>
<ns3:SignatureVerificationFault xmlns="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.2"
 xmlns:ns2="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.2"
 xmlns:ns3="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/faults/1.2">
<Code>tsmev3:PRODUCTION_AREA:TSMEV3_CORE2 : TR:SYNC:SPS:4</Code>
<Description>SMEV-100:Срок действия сертификата ЭП-ОВ истёк. Иванов Иван</Description>
<ns3:SignatureVerificationFault>CertificateIsExpired</ns3:SignatureVerificationFault>
</ns3:SignatureVerificationFault></detail></soap:Fault></soap:Body></soap:Envelope>"""


def fault(kind: str, code: str = "soap:Server") -> faults.SmevFault:
    xml = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>{code}</faultcode>'
           f'<faultstring>x</faultstring><detail><f:{kind} xmlns:f="urn:f"/></detail></soap:Fault></soap:Body></soap:Envelope>')  # fmt: skip
    parsed = faults.parse_fault(etree.fromstring(xml.encode()))
    assert parsed is not None
    return parsed


def test_real_signature_fault_shape() -> None:
    f = faults.parse_fault(etree.fromstring(REAL.encode()))
    assert f is not None and f.kind == "SignatureVerificationFault" and f.signature_fault == "CertificateIsExpired"
    assert f.smev_code == "SMEV-100" and f.fault_code == "Server"
    error = faults.fault_error(f)
    assert isinstance(error, PermanentError) and error.code == "smev_certificate_expired"
    assert "SMEV-100" in error.detail and "Иванов" not in error.detail  # SMEV's text may carry data: not copied


@pytest.mark.parametrize(
    ("kind", "cls", "code"),
    [
        ("SMEVFailure", TransientError, "smev_failure"),
        ("DestinationOverflow", TransientError, "smev_destination_overflow"),
        ("EndOfLifeReached", TransientError, "smev_end_of_life"),
        ("MessageIsAlreadySent", PermanentError, "smev_message_already_sent"),
        ("StaleMessageId", PermanentError, "smev_stale_message_id"),
        ("InvalidMessageIdFormat", PermanentError, "smev_invalid_message_id"),
        ("InvalidContent", PermanentError, "smev_invalid_content"),
        ("AccessDenied", PermanentError, "smev_access_denied"),
        ("TargetMessageIsNotFound", PermanentError, "smev_ack_target_not_found"),
        ("SomethingNew", TransientError, "smev_server_fault"),
    ],
)
def test_fault_kinds(kind: str, cls: type, code: str) -> None:
    error = faults.fault_error(fault(kind))
    assert isinstance(error, cls) and error.code == code


def test_unknown_client_fault_is_permanent_and_http_statuses() -> None:
    assert isinstance(faults.fault_error(fault("Whatever", "soap:Client")), PermanentError)
    assert isinstance(faults.http_error(503), TransientError)
    assert faults.http_error(429, "3").retry_after == 3.0
    assert isinstance(faults.http_error(404), PermanentError)


def test_async_rejections() -> None:
    e = faults.async_rejection_error("requestIsRejectedBySmev", "InvalidContent", "SMEV-403:Бизнес-данные не соответствуют")
    assert isinstance(e, PermanentError) and e.code == "smev_rejected_async" and "SMEV-403" in e.detail
    assert faults.async_rejection_error("messageIsDelivered", None, None) is None
