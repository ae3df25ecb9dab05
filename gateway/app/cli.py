"""The ``gateway`` command line: serve, tokens, journal, calendar, the signing commands and ``emulators``.

Subcommands register themselves through small ``add_commands(subparsers)`` functions so
that packages (``signing.cli``) stay independent of the service.  Output for people is
in Russian; exit status is 0 on success, 1 on a failed check and 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

Command = Callable[[argparse.Namespace], int]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="Шлюз социального заказа (189-ФЗ)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from gateway.app import commands as cli_service

    cli_service.add_commands(sub)
    from gateway.app.features import FEATURES

    for feature in FEATURES:
        if feature.commands is not None:
            feature.commands(sub)
    from signing import cli as signing_cli

    signing_cli.add_commands(sub)
    from emulators import cli as emulators_cli

    emulators_cli.add_commands(sub, ports=_emulator_ports, default_trust=_default_trust)
    return parser


def _emulator_ports() -> dict[str, int]:
    """The ports the adapters' settings point at, so ``gateway emulators`` is where ``gateway serve`` looks."""
    from gateway.core.settings import load_settings
    from gateway.systems import emulator_ports

    return emulator_ports(load_settings())


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
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
