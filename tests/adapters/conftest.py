"""Fixtures of the adapter tests; their code is in :mod:`tests.support.adapters`."""

from tests.support.adapters import outgoing, pki, profiles  # noqa: F401 - fixtures
