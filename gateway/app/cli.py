"""The ``gateway`` command line: serve, tokens, journal, calendar, the signing commands and ``emulators``.

Subcommands register themselves through small ``add_commands(subparsers)`` functions so
that packages (``signing.cli``) stay independent of the service.  Output for people is
in Russian; exit status is 0 on success, 1 on a failed check and 2 on bad usage.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, cast

from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy import exc as sa_exc

Command = Callable[[argparse.Namespace], int]


class _HelpFormatter(argparse.HelpFormatter):
    """Help lines that show an option's default when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            text and "по умолчанию" not in text and default not in (None, False, argparse.SUPPRESS)
            and action.option_strings and not isinstance(default, (list, tuple))
        ):  # fmt: skip
            text += " (по умолчанию: %(default)s)"
        return text

    def add_usage(self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "использование: " if prefix is None else prefix)


class GatewayParser(argparse.ArgumentParser):
    """Every parser of the ``gateway`` command (subcommands inherit the class) formats help alike."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: ошибка в аргументах: {message} (usage_invalid)\n")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        add_help = kwargs.pop("add_help", True)
        kwargs["add_help"] = False  # our own -h, with a Russian help line
        super().__init__(*args, **kwargs)
        self._positionals.title = "аргументы"
        self._optionals.title = "параметры"
        if add_help:
            self.add_argument("-h", "--help", action="help", help="показать эту справку и выйти")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("social-order-gateway")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "неизвестна"


def _build_parser() -> argparse.ArgumentParser:
    parser = GatewayParser(prog="gateway", description="Шлюз социального заказа (189-ФЗ)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}", help="версия шлюза")
    sub = cast("argparse._SubParsersAction[argparse.ArgumentParser]",
               parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))  # fmt: skip
    from gateway.app import commands as cli_service

    cli_service.add_commands(sub)
    from gateway.app.features import FEATURES

    for feature in FEATURES:
        if feature.commands is not None:
            feature.commands(sub)
    from signing import cli as signing_cli

    signing_cli.add_commands(sub)
    from signing import trust_cli

    trust_cli.add_commands(sub, pki_dir=_pki_dir, signer_cert=_tsl_signer_cert)
    from emulators import cli as emulators_cli

    emulators_cli.add_commands(sub, ports=_emulator_ports, default_trust=_default_trust)
    return parser


def _emulator_ports() -> dict[str, int]:
    """The ports the adapters' settings point at, so ``gateway emulators`` is where ``gateway serve`` looks."""
    from gateway.core.settings import load_settings
    from gateway.systems import emulator_ports

    return emulator_ports(load_settings())


def _pki_dir() -> Path:
    """``GATEWAY_PKI_DIR`` (default ``$GATEWAY_DATA_DIR/pki``): where ``gateway trust import-tsl`` stores the list."""
    from gateway.core.settings import load_settings

    return load_settings().effective_pki_dir


def _tsl_signer_cert() -> Path | None:
    """``GATEWAY_TRUST__TSL_SIGNER_CERT``: the certificate the trusted list must be signed with (or its issuer)."""
    from gateway.core.settings import load_settings

    return load_settings().trust.tsl_signer_cert


def _default_trust() -> Path:
    """The CA the running gateway trusts (``GATEWAY_PKI_DIR``, default ``$GATEWAY_DATA_DIR/pki``; ``gateway pki init``)."""
    from gateway.core.settings import load_settings

    return load_settings().effective_pki_dir / "ca.pem"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    func: Command = args.func
    from gateway.core.working_days import CalendarError
    from gateway.municipalities import ProfileError
    from gateway.workflow.problems import Problem

    try:
        return func(args)
    except Problem as problem:
        print(f"Ошибка: {problem.detail} ({problem.code})", file=sys.stderr)
        return 2 if problem.status < 500 else 1
    except ProfileError as exc:
        print(f"Ошибка в профиле муниципалитета: {exc} (profile_invalid)", file=sys.stderr)
        return 2
    except CalendarError as exc:
        print(f"Ошибка в производственном календаре: {exc} (calendar_invalid)", file=sys.stderr)
        return 2
    except (ValidationError, SettingsError) as exc:
        print(f"Ошибка в настройках: {settings_error_text(exc)} (settings_invalid)", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        what = {FileNotFoundError: "файл не найден", IsADirectoryError: "ожидался файл, а это каталог",
                NotADirectoryError: "путь не является каталогом", PermissionError: "нет доступа"}  # fmt: skip
        word = next(w for kind, w in what.items() if isinstance(exc, kind))
        print(f"Ошибка: {word}: {exc.filename or exc} (file_missing)", file=sys.stderr)
        return 2
    except (sa_exc.OperationalError, sa_exc.InterfaceError, ConnectionRefusedError, socket.gaierror) as exc:
        if not isinstance(exc, sa_exc.SQLAlchemyError) and not _database_refused(exc):
            raise
        print(f"Ошибка: база данных недоступна: {_database_shown()} (database_unavailable)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def settings_error_text(exc: Exception) -> str:
    """Which ``GATEWAY_*`` variable is wrong and why, from pydantic's error (one line per setting)."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for error in exc.errors():
        path = "__".join(str(p) for p in error["loc"] if not isinstance(p, int)).upper()
        parts.append(f"GATEWAY_{path}: {error['msg']}" if path else str(error["msg"]))
    return "; ".join(parts)


def _database_refused(exc: BaseException) -> bool:
    """A refused connection while the command talks to the database (not to a state system)."""
    import traceback

    return any("sqlalchemy" in f.filename or "asyncpg" in f.filename or "aiosqlite" in f.filename
               for f in traceback.extract_tb(exc.__traceback__))  # fmt: skip


def _database_shown() -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    from gateway.core.settings import Settings

    try:
        return make_url(Settings().effective_database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for the message
        return "GATEWAY_DATABASE_URL"


if __name__ == "__main__":
    sys.exit(main())
