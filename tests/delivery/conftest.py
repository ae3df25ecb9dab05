"""Fixtures of the delivery tests; their code is in :mod:`tests.support.delivery_stack`."""

from tests.support.delivery_stack import backend, stack_factory  # noqa: F401 - fixtures
