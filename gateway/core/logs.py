"""Logging set-up that keeps personal data out of the logs.

Database drivers log SQL parameters at DEBUG (aiosqlite, SQLAlchemy's echo, asyncpg),
and parameters hold document payloads with children's data. Those loggers are pinned at
WARNING whatever level the gateway runs at; our own log lines carry ids, types, codes only.
"""

from __future__ import annotations

import logging

PARAMETER_LOGGERS = ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "asyncpg", "aio_pika", "aiormq")


def quiet_parameter_loggers() -> None:
    for name in PARAMETER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    quiet_parameter_loggers()
