"""Server-side signing keys of the organisations, and the trusted roots for verifying others.

The registry is a YAML file (``GATEWAY_KEYS_FILE``, default ``<data_dir>/keys.yaml``)::

    keys:
      - municipality: livny          # or "*"
        org: administration          # an organisation id of the profile, or "*"
        role: authorized_body        # or "*"
        key: pki/authorized_body.p12 # PKCS#12 or encrypted PKCS#8 (relative to the file)
        certificate: null            # needed for PKCS#8 only
        password_env: GATEWAY_KEY_PASSWORD   # or password_file: path

Keys are loaded once, on first use, and kept in memory; passwords come from the
environment or a file and are never logged.  The same registry tells which certificate
identity (INN of the legal entity, OGRN) speaks for an organisation, which is how a
detached signature made elsewhere is checked for authority.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from signing import GostSigner, load_certificates, load_crls, load_signer
from signing.certificates import Certificate, RevocationList


class KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    municipality: str = "*"
    org: str = "*"
    role: str = "*"
    key: Path
    certificate: Path | None = None
    password_env: str | None = None
    password_file: Path | None = None


class KeyRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[KeyEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class Identity:
    inn: str | None
    ogrn: str | None


class KeyRing:
    def __init__(self, keys_file: Path, pki_dir: Path) -> None:
        self.keys_file = keys_file
        self.pki_dir = pki_dir
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
                self._signers[index] = load_signer(self._path(entry.key), cert, password)
            return self._signers[index]

    def identity_of(self, municipality: str, org: str, role: str = "*") -> Identity | None:
        signer = self.signer_for(municipality, org, role)
        if signer is None:
            return None
        cert = signer.certificate
        return Identity(inn=cert.innle or cert.inn, ogrn=cert.ogrn)

    @property
    def trusted(self) -> list[Certificate]:
        if self._trusted is None:
            path = self.pki_dir / "ca.pem"
            self._trusted = load_certificates(path.read_bytes()) if path.exists() else []
        return self._trusted

    @property
    def crls(self) -> list[RevocationList]:
        if self._crls is None:
            path = self.pki_dir / "ca.crl"
            self._crls = load_crls(path.read_bytes()) if path.exists() else []
        return self._crls
