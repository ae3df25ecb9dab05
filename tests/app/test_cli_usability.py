"""The ``gateway`` command for people: version, help on every option, readable errors, no tracebacks."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.app.cli import _build_parser
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, cwd=REPO, timeout=120,
        env={**os.environ, **env},
    )  # fmt: skip


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _options(child, (*path, name))
        else:
            yield " ".join(path), action


def test_every_option_and_argument_has_help() -> None:
    missing = [(cmd, a.option_strings or a.dest) for cmd, a in _options(_build_parser(), ("gateway",)) if not a.help]
    assert not missing, missing


def test_help_shows_defaults_and_is_russian() -> None:
    out = run_cli("tokens", "list", "--help", env={}).stdout
    assert out.startswith("использование: gateway tokens list") and "параметры:" in out
    assert "показать эту справку и выйти" in out
    parser = _build_parser()
    help_text = parser._subparsers._group_actions[0].choices["epgu"]  # type: ignore[union-attr]
    inject = next(a for a in help_text._actions if isinstance(a, argparse._SubParsersAction)).choices["inject"]
    assert "(по умолчанию: 1)" in inject.format_help()


def test_version() -> None:
    done = run_cli("--version", env={})
    assert done.returncode == 0 and done.stdout.startswith("gateway ") and done.stdout.split()[1][0].isdigit()


def test_bad_usage_is_a_russian_line_with_a_code() -> None:
    done = run_cli("tokens", "list", "--bogus", env={})
    assert done.returncode == 2 and "ошибка в аргументах" in done.stderr and "usage_invalid" in done.stderr


def test_a_bad_setting_names_the_variable(tmp_path: Path) -> None:
    done = run_cli("tokens", "list", env={"GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_PORT": "восемьдесят"})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "GATEWAY_PORT" in done.stderr and "settings_invalid" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://gateway:s3cret@127.0.0.1:{free_port()}/gateway"
    done = run_cli("tokens", "list", env={"GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_DATABASE_URL": url})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "database_unavailable" in done.stderr and "s3cret" not in done.stderr and "127.0.0.1" in done.stderr


@pytest.mark.parametrize("variable", ["GATEWAY_MUNICIPALITIES_DIR", "GATEWAY_CALENDAR_FILE"])
def test_a_missing_file_is_named(tmp_path: Path, variable: str) -> None:
    missing = tmp_path / "нет-такого"
    done = run_cli("tokens", "list", env={"GATEWAY_DATA_DIR": str(tmp_path), variable: str(missing)})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert str(missing) in done.stderr
