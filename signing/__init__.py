"""GOST signatures: primitives through OpenSSL's GOST engine, keys, certificates, XMLDSig (SMEV profile), CMS. Imports nothing of the gateway.

The one interface other packages need is :class:`Signer` (``sign(data) -> s || r``) and
:func:`load_signer` to get one from PKCS#8/PKCS#12 files; documents are signed and
verified with :mod:`signing.xmldsig` and :mod:`signing.cms`.
"""

from signing.certificates import Certificate, load_certificate, load_certificates, load_crls
from signing.chain import ChainResult, validate_chain
from signing.keys import GostSigner, KeyFileError, Signer, load_signer
from signing.streebog import streebog256, streebog512

__all__ = [
    "Certificate",
    "ChainResult",
    "GostSigner",
    "KeyFileError",
    "Signer",
    "load_certificate",
    "load_certificates",
    "load_crls",
    "load_signer",
    "streebog256",
    "streebog512",
    "validate_chain",
]
