"""Loopback ports for processes and servers the tests start."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (held together while picked, so none repeats)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def embedded_serve_env(data_dir: Path) -> tuple[dict[str, str], int]:
    """The environment of ``gateway serve`` on its embedded default, emulators on free ports; and its API port.

    As an operator first starts it: SQLite and the embedded queue (the test's own database
    and broker settings are dropped).
    """
    api, smev, eb, portal, nav, eais = free_ports(6)
    env = {
        **os.environ,
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_SMEV__URL": f"http://127.0.0.1:{smev}/transport_1_0_2/",
        "GATEWAY_SYSTEMS__ELECTRONIC_BUDGET__BASE_URL": f"http://127.0.0.1:{eb}/eb/social-order/v1",
        "GATEWAY_SYSTEMS__BUDGET_PORTAL__BASE_URL": f"http://127.0.0.1:{portal}",
        "GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL": f"http://127.0.0.1:{nav}",
        "GATEWAY_SYSTEMS__EAIS__BASE_URL": f"http://127.0.0.1:{eais}",
    }
    env.pop("GATEWAY_DATABASE_URL", None)
    env.pop("GATEWAY_AMQP_URL", None)
    return env, api
