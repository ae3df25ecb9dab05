"""The gateway refuses to talk to real systems with pure-Python GOST unless allowed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.core.settings import Settings
from gateway.systems.smev import signing_backend_problems
from signing.backend import get_backend, python_backend

REPO = Path(__file__).resolve().parents[2]


def test_slow_backend_is_a_startup_problem_unless_allowed(tmp_path: Path) -> None:
    problems = signing_backend_problems(Settings(data_dir=tmp_path), python_backend())
    assert [p.code for p in problems] == ["slow_gost_backend"]
    text = str(problems[0])
    assert "1000 раз медленнее" in text and "apt-get install libengine-gost-openssl" in text
    assert text.endswith("задайте GATEWAY_SIGNING__ALLOW_SLOW_BACKEND=true (slow_gost_backend)")
    assert signing_backend_problems(Settings(data_dir=tmp_path, signing={"allow_slow_backend": True}), python_backend()) == []
    if get_backend().name != "pure-python":
        assert signing_backend_problems(Settings(data_dir=tmp_path), get_backend()) == []


REFUSAL = """
import json
from gateway.core.settings import Settings
from gateway.systems.smev import StartupRefused, check_startup
try:
    check_startup(Settings(), smev=False)
    print(json.dumps([]))
except StartupRefused as refused:
    print(json.dumps([p.code for p in refused.problems]))
"""


def _startup_codes(tmp_path: Path, **env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    out = subprocess.run([sys.executable, "-c", REFUSAL], capture_output=True, text=True, timeout=120, cwd=REPO,
                         env={**base, "GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_GOST_BACKEND": "python", **env})  # fmt: skip
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_production_start_is_refused_on_the_slow_backend(tmp_path: Path) -> None:
    # real systems (no emulators): refused, with the reason
    assert "slow_gost_backend" in _startup_codes(tmp_path, GATEWAY_RUN_EMULATORS="false")
    # explicitly allowed
    allowed = _startup_codes(tmp_path, GATEWAY_RUN_EMULATORS="false", GATEWAY_SIGNING__ALLOW_SLOW_BACKEND="true")
    assert "slow_gost_backend" not in allowed
    # the embedded demo with its emulators, and systems declared emulated, start as before
    assert _startup_codes(tmp_path) == []
    assert "slow_gost_backend" not in _startup_codes(tmp_path, GATEWAY_RUN_EMULATORS="false", GATEWAY_SYSTEMS__EMULATED="true")
