from tests.flows.epgu.stack import backend, epgu_pki_dir, epgu_stack  # noqa: F401 - fixtures
from tests.smev_support import emulator, smev_pki  # noqa: F401 - fixtures
