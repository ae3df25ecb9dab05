"""GOST object identifiers, XMLDSig algorithm URIs and parameter-set names in one place.

Values from RFC 9215, OpenSSL's object table and real SMEV certificates (see
``docs/protocols.md``); nothing here computes anything.
"""

from __future__ import annotations

from typing import Final

# key algorithms
GOST2012_256: Final = "1.2.643.7.1.1.1.1"
GOST2012_512: Final = "1.2.643.7.1.1.1.2"
GOST2001: Final = "1.2.643.2.2.19"
# digests
STREEBOG256: Final = "1.2.643.7.1.1.2.2"
STREEBOG512: Final = "1.2.643.7.1.1.2.3"
GOST94: Final = "1.2.643.2.2.9"
GOST94_CRYPTOPRO_PARAMS: Final = "1.2.643.2.2.30.1"
# signature-with-digest (certificate/CRL signatureAlgorithm)
SIG_GOST2012_256: Final = "1.2.643.7.1.1.3.2"
SIG_GOST2012_512: Final = "1.2.643.7.1.1.3.3"
SIG_GOST2001: Final = "1.2.643.2.2.3"

DIGEST_BY_OID: Final = {STREEBOG256: "streebog256", STREEBOG512: "streebog512", GOST94: "gost94"}
OID_BY_DIGEST: Final = {v: k for k, v in DIGEST_BY_OID.items()}

# signatureAlgorithm / key OID -> digest used with it
DIGEST_FOR_SIGNATURE_OID: Final = {
    SIG_GOST2012_256: "streebog256",
    SIG_GOST2012_512: "streebog512",
    SIG_GOST2001: "gost94",
    GOST2012_256: "streebog256",
    GOST2012_512: "streebog512",
    GOST2001: "gost94",
}
KEY_SIZE: Final = {GOST2012_256: 32, GOST2012_512: 64, GOST2001: 32}

# qualified-certificate attributes
INN: Final = "1.2.643.3.131.1.1"
OGRN: Final = "1.2.643.100.1"
SNILS: Final = "1.2.643.100.3"
INNLE: Final = "1.2.643.100.4"
OGRNIP: Final = "1.2.643.100.5"
SUBJECT_SIGN_TOOL: Final = "1.2.643.100.111"
ISSUER_SIGN_TOOL: Final = "1.2.643.100.112"
POLICY_KC1: Final = "1.2.643.100.113.1"
POLICY_KC2: Final = "1.2.643.100.113.2"
POLICY_NAMES: Final = {
    "1.2.643.100.113.1": "КС1",
    "1.2.643.100.113.2": "КС2",
    "1.2.643.100.113.3": "КС3",
    "1.2.643.100.113.4": "КВ1",
    "1.2.643.100.113.5": "КВ2",
    "1.2.643.100.113.6": "КА1",
}

# parameter sets -> gostcrypto curve name
CURVE_BY_PARAMSET: Final = {
    "1.2.643.2.2.35.0": "test",
    "1.2.643.2.2.35.1": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.2.2.36.0": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.7.1.2.1.1.2": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.2.2.35.2": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.7.1.2.1.1.3": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.2.2.35.3": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.2.2.36.1": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.7.1.2.1.1.4": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.7.1.2.1.1.1": "id-tc26-gost-3410-2012-256-paramSetA",
    "1.2.643.7.1.2.1.2.1": "id-tc26-gost-3410-12-512-paramSetA",
    "1.2.643.7.1.2.1.2.2": "id-tc26-gost-3410-12-512-paramSetB",
    "1.2.643.7.1.2.1.2.3": "id-tc26-gost-3410-2012-512-paramSetC",
}
# the GOST engine's short paramset names -> OID
PARAMSET_BY_ENGINE_NAME: Final = {
    (32, "A"): "1.2.643.2.2.35.1",
    (32, "B"): "1.2.643.2.2.35.2",
    (32, "C"): "1.2.643.2.2.35.3",
    (32, "XA"): "1.2.643.2.2.36.0",
    (32, "XB"): "1.2.643.2.2.36.1",
    (32, "TCA"): "1.2.643.7.1.2.1.1.1",
    (32, "TCB"): "1.2.643.7.1.2.1.1.2",
    (32, "TCC"): "1.2.643.7.1.2.1.1.3",
    (32, "TCD"): "1.2.643.7.1.2.1.1.4",
    (64, "A"): "1.2.643.7.1.2.1.2.1",
    (64, "B"): "1.2.643.7.1.2.1.2.2",
    (64, "C"): "1.2.643.7.1.2.1.2.3",
}

# XMLDSig
DS_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
SMEV_TRANSFORM: Final = "urn://smev-gov-ru/xmldsig/transform"
XML_SIG_2012_256: Final = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-256"
XML_SIG_2012_512: Final = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-512"
XML_DIGEST_256: Final = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-256"
XML_DIGEST_512: Final = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-512"
XML_SIG_2001: Final = "http://www.w3.org/2001/04/xmldsig-more#gostr34102001-gostr3411"
XML_DIGEST_94: Final = "http://www.w3.org/2001/04/xmldsig-more#gostr3411"

XML_DIGESTS: Final = {
    XML_DIGEST_256: "streebog256",
    XML_DIGEST_512: "streebog512",
    "http://www.w3.org/2001/04/xmldsig-more#gostr34112012-256": "streebog256",
    "http://www.w3.org/2001/04/xmldsig-more#gostr34112012-512": "streebog512",
    XML_DIGEST_94: "gost94",
}
XML_SIGNATURES: Final = {
    XML_SIG_2012_256: "streebog256",
    XML_SIG_2012_512: "streebog512",
    "http://www.w3.org/2001/04/xmldsig-more#gostr34102012-gostr34112012-256": "streebog256",
    "http://www.w3.org/2001/04/xmldsig-more#gostr34102012-gostr34112012-512": "streebog512",
    XML_SIG_2001: "gost94",
}
