"""``gateway emulators``: start every registered emulator on loopback and print one line per system.

Each line on stdout is ``<name> http://127.0.0.1:PORT/...`` (names as in
:data:`emulators.runner.REGISTRY`); notes for people go to stderr in Russian.  The gateway's
CLI passes the ports its adapters' settings expect and the default CA file, so that
``gateway serve`` works with these emulators when told they are emulators run apart
(``GATEWAY_RUN_EMULATORS=false GATEWAY_SYSTEMS__EMULATED=true``: the emulators' addresses and
secrets are then allowed and SMEV's pins are read from the SMEV emulator).  Runs until
interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulators.runner import RunConfig

SYSTEMS = ("smev", "electronic_budget", "budget_portal", "navigator", "eais")  # names the runner may register


def add_commands(
    sub: Any,
    *,
    ports: Callable[[], Mapping[str, int]] | None = None,
    default_trust: Callable[[], Path] | None = None,
) -> None:
    """Register ``emulators`` on the ``gateway`` parser; ``ports``/``default_trust`` come from the gateway's settings."""
    p = sub.add_parser("emulators", help="запустить эмуляторы внешних систем (loopback)")
    p.add_argument("--trust", type=Path, metavar="CAFILE",
                   help="сертификат(ы) УЦ (PEM), которым доверяют эмуляторы; по умолчанию — УЦ из gateway pki init")  # fmt: skip
    p.add_argument("--only", action="append", choices=SYSTEMS, help="запустить только эти системы")
    p.add_argument("--host", default="127.0.0.1",
                   help="адрес для прослушивания (по умолчанию только loopback; 0.0.0.0 — в контейнере)")  # fmt: skip
    p.add_argument("--eb-delay", type=float, default=2.0, help="задержка обработки и публикации в «Электронном бюджете», с")
    p.add_argument("--certificates", type=int, default=120_000, help="число сертификатов в реестре Навигатора")

    def run(args: argparse.Namespace) -> int:
        from emulators import runner  # imported here: the other gateway commands need none of the emulators

        unknown = set(args.only or ()) - set(runner.REGISTRY)
        if unknown:
            print(f"Ошибка: эмулятор ещё не подключён: {', '.join(sorted(unknown))} (emulator_unknown)", file=sys.stderr)
            return 2
        trust = args.trust or (default_trust() if default_trust else None)
        config = runner.RunConfig(
            ports=dict(ports()) if ports else dict(runner.DEFAULT_PORTS),
            host=args.host,
            trust=trust,
            pki_dir=trust.parent if trust else None,
            key_password=_password_beside(trust),
            eb_processing_delay_s=args.eb_delay,
            eb_publish_delay_s=args.eb_delay,
            navigator_certificates=args.certificates,
        )
        if trust is None or not trust.is_file():
            print(f"Внимание: файл УЦ {trust} не найден: «Электронный бюджет» и Навигатор проверяют подписи без цепочки "
                  "доверия, СМЭВ отклоняет подписи шлюза (создайте УЦ: gateway pki init или укажите --trust)",
                  file=sys.stderr)  # fmt: skip
        return asyncio.run(_serve(config, args.only))

    p.set_defaults(func=run)


def _password_beside(trust: Path | None) -> str | None:
    """The demo PKI keeps its key password in ``.password`` next to the CA (``gateway demo-pki``)."""
    if trust is None:
        return None
    secret = trust.parent / ".password"
    return secret.read_text(encoding="utf-8").strip() if secret.is_file() else None


async def _serve(config: RunConfig, names: list[str] | None) -> int:
    from emulators import runner

    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the lines are printed: a reader may stop us at once
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopped.set)
    try:
        running = await runner.start(config, names)
    except OSError as exc:
        print(f"Ошибка: эмулятор не запущен: {exc.strerror or exc} (port_unavailable)", file=sys.stderr)
        return 1
    for note in config.notes:
        print(note, file=sys.stderr)
    print("Шлюз с этими эмуляторами: GATEWAY_RUN_EMULATORS=false GATEWAY_SYSTEMS__EMULATED=true gateway serve",
          file=sys.stderr)  # fmt: skip
    for r in running:
        print(f"{r.name} {r.url}", flush=True)
    try:
        await stopped.wait()
    finally:
        await runner.stop(running)
    return 0
