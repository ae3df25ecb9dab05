"""Fixtures of the transport tests; their code is in :mod:`tests.support.queues`."""

from tests.support.queues import backend, db, pg_database, rabbit_cleanup  # noqa: F401 - fixtures
