"""Shared fixtures: the conformance kit, a generated test PKI, both GOST backends.

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

from signing.backend import Backend, get_backend, python_backend
from signing.gost_engine import load_engine, openssl_env
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
def engine() -> Backend:
    if load_engine() is None:
        pytest.skip("движок GOST не установлен")
    return get_backend()


@pytest.fixture(scope="session")
def pyback() -> Backend:
    return python_backend()


@pytest.fixture(scope="session")
def pki() -> TestPKI:
    return create_test_pki()


@pytest.fixture(scope="session")
def pki_dir(pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    pki.write(d, "пароль-теста", pkcs12=load_engine() is not None)
    return d


OpenSSL = Callable[..., "subprocess.CompletedProcess[bytes]"]


def _run_openssl(args: Sequence[str | Path], *, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(["openssl", *map(str, args)], input=input, capture_output=True, env=openssl_env(), timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"openssl {args} -> {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return proc


@pytest.fixture(scope="session")
def openssl() -> OpenSSL:
    """Run the real ``openssl`` with the GOST engine through our generated configuration."""
    if load_engine() is None or shutil.which("openssl") is None:
        pytest.skip("нет openssl с движком GOST")
    return _run_openssl
