from tests.smev_support import emulator, make_client, smev_pki, stranger_pki  # noqa: F401 - fixtures
