"""Server-side signing keys of the organisations, and the trusted roots for verifying others.

The registry is a YAML file (``GATEWAY_KEYS_FILE``, default ``<data_dir>/keys.yaml``)::

    keys:
      - municipality: livny          # or "*"
        org: administration          # an organisation id of the profile, or "*"
        role: authorized_body        # or "*"
        key: pki/authorized_body.p12 # PKCS#12 or encrypted PKCS#8 (relative to the file)
        certificate: null            # needed for PKCS#8 only
        password_env: GATEWAY_KEY_PASSWORD   # or password_file: path
      - org: director
        pkcs11: {label: director, id: "0a01"}  # a key in the PKCS#11 token of GATEWAY_KEYS__PKCS11_*
        certificate: pki/director.pem        # or omitted: read from the token (same id, else label)

Keys are loaded once, on first use, and kept in memory; passwords come from the
environment or a file and are never logged.  The same registry tells which certificate
identity (INN of the legal entity, OGRN) speaks for an organisation, which is how a
detached signature made elsewhere is checked for authority.

Signatures made by others are checked against :attr:`KeyRing.trust_store`: the roots of
``<pki_dir>/ca.pem``, the static ``<pki_dir>/ca.crl`` (re-read when it changes), the CRLs
and OCSP answers fetched for the certificates met (kept in ``<data_dir>/revocation``,
refreshed in the background between :meth:`KeyRing.start` and :meth:`KeyRing.close`), and
the revocation policy of the settings (``GATEWAY_REVOCATION__POLICY``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.core.settings import KeysSettings, RevocationSettings
from signing import GostSigner, load_certificate, load_certificates, load_crls, load_signer
from signing.certificates import Certificate, RevocationList
from signing.pkcs11_signer import GOST_R3410_2012, Pkcs11Error, SignMechanism, Token, load_token_signer
from signing.revocation_source import RevocationSource
from signing.trust_list import TrustedList, TrustListError, load_imported, stored_path
from signing.trust_store import TrustStore

log = logging.getLogger("gateway.keys")


class TokenKeyRef(BaseModel):
    """A private key in the PKCS#11 token, by label and/or id (hex)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str | None = None
    id: str | None = None

    @field_validator("id")
    @classmethod
    def _hex(cls, v: str | None) -> str | None:
        if v is not None:
            bytes.fromhex(v)
        return v

    @model_validator(mode="after")
    def _named(self) -> TokenKeyRef:
        if self.label is None and self.id is None:
            raise ValueError("pkcs11: нужна метка (label) или id ключа")
        return self


class KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    municipality: str = "*"
    org: str = "*"
    role: str = "*"
    key: Path | None = None
    pkcs11: TokenKeyRef | None = None
    certificate: Path | None = None
    password_env: str | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_key(self) -> KeyEntry:
        if (self.key is None) == (self.pkcs11 is None):
            raise ValueError("у записи ключа должно быть ровно одно из key и pkcs11")
        return self


class KeyRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[KeyEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class Identity:
    inn: str | None
    ogrn: str | None


class KeyRing:
    def __init__(
        self, keys_file: Path, pki_dir: Path, *, revocation: RevocationSettings | None = None, data_dir: Path | None = None,
        pkcs11: KeysSettings | None = None, pkcs11_mechanism: SignMechanism = GOST_R3410_2012,
        tsl_signer_cert: Path | None = None,
    ) -> None:  # fmt: skip
        self.keys_file = keys_file
        self.tsl_signer_cert = tsl_signer_cert
        self._tsl: TrustedList | None = None
        self._tsl_mtime: int | None = None
        self.tsl_problem: str | None = None  # why an imported list is not used (bad signature, unreadable)
        self.pkcs11 = pkcs11 or KeysSettings()
        self.pkcs11_mechanism = pkcs11_mechanism  # GOST; the tests pass ECDSA (SoftHSM2 has no GOST)
        self._token: Token | None = None
        self._token_refused: Pkcs11Error | None = None  # a refused PIN is not tried again (the token would lock)
        self.pki_dir = pki_dir
        self.revocation = revocation or RevocationSettings()
        self.revocation_cache_dir = self.revocation.cache_dir or (data_dir / "revocation" if data_dir is not None else None)
        self._source: RevocationSource | None = None
        self._trust_store: TrustStore | None = None
        self._trust_crls: list[RevocationList] | None = None
        self._trust_anchors: list[Certificate] | None = None
        self._crl_mtime: int | None = None
        self._lock = threading.Lock()
        self._signers: dict[int, GostSigner] = {}
        self.registry = KeyRegistry()
        if keys_file.exists():
            self.registry = KeyRegistry.model_validate(yaml.safe_load(keys_file.read_text(encoding="utf-8")) or {})
        self._trusted: list[Certificate] | None = None
        self._crls: list[RevocationList] | None = None

    def _entry(self, municipality: str, org: str, role: str) -> tuple[int, KeyEntry] | None:
        for i, e in enumerate(self.registry.keys):
            if e.municipality in (municipality, "*") and e.org in (org, "*") and e.role in (role, "*"):
                return i, e
        return None

    def _path(self, p: Path) -> Path:
        return p if p.is_absolute() else self.keys_file.parent / p

    def signer_for(self, municipality: str, org: str, role: str = "*") -> GostSigner | None:
        found = self._entry(municipality, org, role)
        if found is None:
            return None
        index, entry = found
        with self._lock:
            if index not in self._signers:
                password: str | None = None
                if entry.password_env:
                    password = os.environ.get(entry.password_env)
                elif entry.password_file:
                    password = self._path(entry.password_file).read_text(encoding="utf-8").strip()
                cert = self._path(entry.certificate) if entry.certificate else None
                if entry.pkcs11 is not None:
                    self._signers[index] = self._token_signer(entry.pkcs11, cert)
                else:
                    assert entry.key is not None
                    self._signers[index] = load_signer(self._path(entry.key), cert, password)
            return self._signers[index]

    def _token_signer(self, ref: TokenKeyRef, cert: Path | None) -> GostSigner:
        """A key in the PKCS#11 token of the settings; the token is opened and logged in to once."""
        s = self.pkcs11
        if self._token is None:
            if s.pkcs11_module is None or s.pkcs11_token_label is None:
                raise Pkcs11Error("pkcs11_module_missing", "ключ на токене, но не заданы модуль и метка токена "
                                  "(GATEWAY_KEYS__PKCS11_MODULE, GATEWAY_KEYS__PKCS11_TOKEN_LABEL)")  # fmt: skip
            if self._token_refused is not None:
                raise self._token_refused
            pin = os.environ.get(s.pkcs11_pin_env) if s.pkcs11_pin_env else None
            if pin is None and s.pkcs11_pin_file is not None:
                pin = s.pkcs11_pin_file.read_text(encoding="utf-8").strip()
            try:
                self._token = Token(s.pkcs11_module, s.pkcs11_token_label, pin)
            except Pkcs11Error as exc:
                if exc.code in ("pkcs11_pin_invalid", "pkcs11_pin_locked", "pkcs11_pin_expired"):
                    self._token_refused = exc
                raise
        key_id = bytes.fromhex(ref.id) if ref.id is not None else None
        certificate = load_certificate(cert.read_bytes()) if cert is not None else None
        return load_token_signer(self._token, label=ref.label, key_id=key_id, certificate=certificate,
                                 mechanism=self.pkcs11_mechanism)  # fmt: skip

    def identity_of(self, municipality: str, org: str, role: str = "*") -> Identity | None:
        signer = self.signer_for(municipality, org, role)
        if signer is None:
            return None
        cert = signer.certificate
        return Identity(inn=cert.innle or cert.inn, ogrn=cert.ogrn)

    @property
    def trusted_list(self) -> TrustedList | None:
        """The accredited CAs imported by ``gateway trust import-tsl``, read again when the file changes.

        With ``GATEWAY_TRUST__TSL_SIGNER_CERT`` set, its signature is checked on every read, so a
        list changed on disk after the import is refused (:class:`~signing.trust_list.TrustListError`).
        """
        path = stored_path(self.pki_dir)
        try:
            mtime: int | None = path.stat().st_mtime_ns
        except OSError:
            mtime = None
        if mtime != self._tsl_mtime:
            self._tsl_mtime, self._trusted, self.tsl_problem = mtime, None, None
            try:
                signer = load_certificates(self.tsl_signer_cert.read_bytes()) if self.tsl_signer_cert else None
                self._tsl = load_imported(self.pki_dir, signer=signer) if mtime is not None else None
            except (TrustListError, OSError, ValueError) as exc:
                # Fail closed: the list's CAs are not trusted until a good list is imported again.
                self._tsl = None
                self.tsl_problem = str(exc)
                log.error("trusted list %s unusable, its CAs are not trusted: %s", path, exc)
        return self._tsl

    @property
    def trusted(self) -> list[Certificate]:
        """The gateway's own roots (``ca.pem``) and the accredited CAs of the imported list."""
        tsl = self.trusted_list
        if self._trusted is None:
            path = self.pki_dir / "ca.pem"
            own = load_certificates(path.read_bytes()) if path.exists() else []
            self._trusted = own + (tsl.anchors if tsl is not None else [])
        return self._trusted

    @property
    def crls(self) -> list[RevocationList]:
        """The static CRLs of ``ca.crl``, read again when the file changes."""
        path = self.pki_dir / "ca.crl"
        try:
            mtime: int | None = path.stat().st_mtime_ns
        except OSError:
            mtime = None
        if self._crls is None or mtime != self._crl_mtime:
            self._crl_mtime = mtime
            self._crls = load_crls(path.read_bytes()) if mtime is not None else []
        return self._crls

    @property
    def revocation_source(self) -> RevocationSource:
        """CRLs from the distribution points, OCSP answers, and the static ``ca.crl``: fetched, checked, cached."""
        if self._source is None:
            r = self.revocation
            self._source = RevocationSource(
                self.revocation_cache_dir, fetch_timeout_s=r.fetch_timeout_s,
                max_crl_bytes=r.max_crl_bytes, refresh_margin_s=r.refresh_margin_s, ocsp=r.ocsp,
            )  # fmt: skip
        return self._source

    @property
    def trust_store(self) -> TrustStore:
        """What incoming signatures are checked against (one per process: its verdicts are cached).

        Its static CRLs follow :attr:`crls` (a changed ``ca.crl`` replaces them).
        """
        crls = self.crls
        anchors = self.trusted  # re-reads an imported list that changed
        check = self._tsl.anchor_check if self._tsl is not None else None  # accreditation dates of its CAs
        if self._trust_store is None:
            self._trust_store = TrustStore(anchors, crls=crls, source=self.revocation_source, policy=self.revocation.policy,
                                           anchor_check=check)  # fmt: skip
            self._trust_crls, self._trust_anchors = crls, anchors
        else:
            if crls is not self._trust_crls:
                self._trust_store.set_crls(crls)
                self._trust_crls = crls
            if anchors is not self._trust_anchors:
                self._trust_store.set_anchors(anchors)
                self._trust_store.set_anchor_check(check)
                self._trust_anchors = anchors
        return self._trust_store

    def start(self) -> asyncio.Task[None]:
        """Start refreshing the revocation cache in the background (on the running loop)."""
        return self.revocation_source.start()

    async def close(self) -> None:
        """Stop the background refresh (if started) and close the token's sessions (if opened)."""
        if self._token is not None:
            self._token.close()
            self._token = None
        if self._source is not None:
            await self._source.close()
