from tests.support.smev import emulator, make_client, smev_pki, stranger_pki  # noqa: F401 - fixtures
