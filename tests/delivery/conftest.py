"""Fixtures of the delivery tests; their code is in :mod:`tests.support.delivery_stack` (and, for the
crash tests, the SMEV emulator and keys of :mod:`tests.support.smev` and :mod:`tests.support.epgu_stack`)."""

from tests.support.delivery_stack import backend, stack_factory  # noqa: F401 - fixtures
from tests.support.epgu_stack import epgu_pki_dir  # noqa: F401 - fixtures
from tests.support.smev import emulator, smev_pki  # noqa: F401 - fixtures
