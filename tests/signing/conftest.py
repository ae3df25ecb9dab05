"""Shared fixtures: the conformance kit, a generated test PKI, the GOST backends.

Backends: ``openssl_backend`` (alias ``engine``, kept for older tests) is the process's
OpenSSL backend, the provider by default or the engine under ``GATEWAY_GOST_BACKEND=engine``
(``scripts/test`` runs tests/signing both ways); ``provider`` and ``gost_engine`` are the
two OpenSSL backends explicitly (for cross-checks), ``pyback`` the pure-Python one.

The conformance kit (GOST vectors, SMEV transform cases, real signed SMEV messages) is
external test data kept beside the repository, not in it.  ``GATEWAY_CONFORMANCE_DIR``
overrides where it is looked for (default: :data:`CONFORMANCE`); the tests that need it
are skipped when it is absent, everything else still runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from signing.backend import ENGINE, PROVIDER, Backend, get_backend, python_backend
from signing.gost_engine import EngineBackend, engine_path, openssl_env
from signing.gost_provider import ProviderBackend, ProviderUnavailable
from signing.libcrypto import OpenSSLError
from signing.test_pki import TestPKI, create_test_pki

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = Path(os.environ.get("GATEWAY_CONFORMANCE_DIR") or REPO_ROOT.parent / "shared" / "conformance")


@pytest.fixture(scope="session")
def conformance() -> Path:
    """The conformance kit; the test is skipped when the kit is not beside the repository."""
    if not CONFORMANCE.is_dir():
        pytest.skip(f"набор соответствия (conformance) не найден рядом с репозиторием: {CONFORMANCE} (GATEWAY_CONFORMANCE_DIR)")
    return CONFORMANCE.resolve()


@pytest.fixture(scope="session")
def openssl_backend() -> Backend:
    """The process's backend when it is OpenSSL's (provider or engine)."""
    b = get_backend()
    if b.name not in (PROVIDER, ENGINE):
        pytest.skip(f"нет GOST в OpenSSL (бэкенд {b.name})")
    return b


@pytest.fixture(scope="session")
def engine(openssl_backend: Backend) -> Backend:
    """The process's OpenSSL backend (named ``engine`` before the provider backend existed)."""
    return openssl_backend


_provider: ProviderBackend | None = None


@pytest.fixture(scope="session")
def provider() -> ProviderBackend:
    """The provider backend itself (skipped when gostprov has no GOST keys and signatures here)."""
    global _provider
    b = get_backend()
    if isinstance(b, ProviderBackend):
        return b
    if _provider is None:
        try:
            _provider = ProviderBackend()
        except ProviderUnavailable as exc:
            pytest.skip(f"провайдер GOST не годится как бэкенд [{exc.code}]: {exc}")
    return _provider


@pytest.fixture(scope="session")
def gost_engine() -> EngineBackend:
    """The engine backend itself (loads the engine into the process)."""
    b = get_backend()
    if isinstance(b, EngineBackend):
        return b
    try:
        return EngineBackend()
    except OpenSSLError as exc:
        pytest.skip(f"движок GOST недоступен: {exc}")


@pytest.fixture(scope="session")
def pyback() -> Backend:
    return python_backend()


@pytest.fixture(scope="session")
def pki() -> TestPKI:
    return create_test_pki()


@pytest.fixture(scope="session")
def pki_dir(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    pki.write(d, "пароль-теста", pkcs12=True)
    return d


OpenSSL = Callable[..., "subprocess.CompletedProcess[bytes]"]


def _run_openssl(args: Sequence[str | Path], *, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(["openssl", *map(str, args)], input=input, capture_output=True, env=openssl_env(), timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"openssl {args} -> {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return proc


@pytest.fixture(scope="session")
def openssl() -> OpenSSL:
    """Run the real ``openssl`` with GOST (the provider or the engine, as the process) through a generated configuration."""
    if shutil.which("openssl") is None or (get_backend().name != PROVIDER and engine_path() is None):
        pytest.skip("нет openssl с GOST (провайдер или движок)")
    return _run_openssl
