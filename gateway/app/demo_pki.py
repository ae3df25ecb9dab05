"""A test PKI for the embedded demo, created on first start when none is configured.

``gateway serve`` with the emulators (the single-machine default) needs keys to sign with
and a CA that the emulators and the gateway both trust.  On a fresh data directory it
writes a *test* PKI (``signing.test_pki``: not qualified, for demos only) to
``<data_dir>/pki``, private keys encrypted with a random password kept beside them
(mode 0600), and a ``keys.yaml`` giving the authorized body, the finance department and
the gateway's information system their keys.  An existing PKI or key registry is never
touched.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import yaml

from gateway.core.settings import Settings

PASSWORD_FILE = ".password"
ROLE_KEYS = {"authorized_body": "authorized_body", "finance_department": "finance", "operator": "gateway"}


def ensure_demo_pki(settings: Settings) -> Path | None:
    """Create the demo PKI and key registry if both are missing; return the PKI dir if created."""
    pki_dir = settings.effective_pki_dir
    keys_file = settings.effective_keys_file
    if (pki_dir / "ca.pem").exists() or keys_file.exists():
        return None
    from signing.test_pki import create_test_pki

    pki_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    secret = pki_dir / PASSWORD_FILE
    secret.touch(mode=0o600)
    secret.write_text(password, encoding="utf-8")
    create_test_pki().write(pki_dir, password, pkcs12=False)
    entries = [
        {"role": role, "key": f"{pki_dir.name}/{name}.key.pem", "certificate": f"{pki_dir.name}/{name}.pem",
         "password_file": f"{pki_dir.name}/{PASSWORD_FILE}"}
        for role, name in ROLE_KEYS.items()
    ]  # fmt: skip
    if keys_file.parent != pki_dir.parent:
        entries = [{**e, "key": str(pki_dir / Path(e["key"]).name), "certificate": str(pki_dir / Path(e["certificate"]).name),
                    "password_file": str(secret)} for e in entries]  # fmt: skip
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.write_text(
        "# Demo key registry written by `gateway serve` with a TEST PKI. Replace with real keys in production.\n"
        + yaml.safe_dump({"keys": entries}, allow_unicode=True),
        encoding="utf-8",
    )
    return pki_dir


def demo_password(settings: Settings) -> str | None:
    path = settings.effective_pki_dir / PASSWORD_FILE
    return path.read_text(encoding="utf-8").strip() if path.exists() else None
