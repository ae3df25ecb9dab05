from tests.support.epgu_stack import backend, epgu_pki_dir, epgu_stack  # noqa: F401 - fixtures
from tests.support.smev import emulator, smev_pki  # noqa: F401 - fixtures
