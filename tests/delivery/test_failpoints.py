"""Failpoints: ``GATEWAY_FAILPOINTS`` arms named points that SIGKILL the process; unset, nothing happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from gateway.core.failpoints import AFTER_COMMIT, AFTER_DELIVER, AFTER_PUBLISH, ENV, Failpoints, parse

PROBE = (
    "from gateway.core.failpoints import failpoint\n"
    "failpoint('after_deliver', 'navigator')\n"
    "print('passed 1', flush=True)\n"
    "failpoint('after_deliver', 'eais_do')\n"
    "print('passed 2', flush=True)\n"
    "failpoint('after_deliver', 'eais_do')\n"
    "print('passed 3', flush=True)\n"
)


def run_probe(spec: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if spec is not None:
        env[ENV] = spec
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)


def test_spec() -> None:
    assert parse("") == {}
    assert parse("after_deliver:eais_do, after_commit@3,after_publish") == {
        (AFTER_DELIVER, "eais_do"): 1, (AFTER_COMMIT, "*"): 3, (AFTER_PUBLISH, "*"): 1,
    }  # fmt: skip
    for bad in ("after_lunch", "after_commit@x", "after_commit@0"):
        with pytest.raises(ValueError):
            parse(bad)


def test_the_armed_pass_of_the_armed_scope_kills() -> None:
    kills: list[int] = []
    points = Failpoints(parse("after_deliver:eais_do@2,after_commit"), kill=lambda: kills.append(1))
    points.hit(AFTER_DELIVER, "navigator")
    points.hit(AFTER_DELIVER, "eais_do")
    assert kills == []
    points.hit(AFTER_DELIVER, "eais_do")
    assert kills == [1]
    points.hit(AFTER_DELIVER, "eais_do")  # once only
    points.hit(AFTER_COMMIT, "navigator")  # no scope: any system
    assert kills == [1, 1]


@pytest.mark.parametrize(
    ("spec", "passed", "code"),
    [(None, 3, 0), ("after_commit", 3, 0), ("after_deliver:eais_do", 1, -signal.SIGKILL),
     ("after_deliver:eais_do@2", 2, -signal.SIGKILL), ("after_deliver", 0, -signal.SIGKILL)],
)  # fmt: skip
def test_a_real_process_dies_at_the_failpoint(spec: str | None, passed: int, code: int) -> None:
    done = run_probe(spec)
    assert done.returncode == code, done.stderr
    assert done.stdout.split("\n")[:-1] == [f"passed {i}" for i in range(1, passed + 1)]
