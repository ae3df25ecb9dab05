"""The suite's fixtures and hooks; their code is in :mod:`tests.support.gateway`."""

from tests.support.gateway import (  # noqa: F401 - fixtures and hooks pytest finds here
    _delete_rabbitmq_topology,
    api,
    ctx,
    pki,
    pytest_sessionfinish,
    sqlite_ctx,
)
