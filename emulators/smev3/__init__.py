"""A strict SMEV 3 emulator (schemas 1.1 and 1.3) that can also play EPGU.

It validates every request against the official XSD, verifies the ЭП-ОВ against the
roots it trusts (refusing unknown, expired and revoked certificates, tampered content,
stale, malformed or reused MessageIDs with the real fault shapes), queues messages per
recipient until they are acknowledged, and signs what it sends with its own key
(ЭП-СМЭВ).  It imports ``signing`` and ``emulators`` only, never the gateway or adapters.
"""

from emulators.smev3.app import DEFAULT_PORT, SMEV, create_app, main

__all__ = ["DEFAULT_PORT", "SMEV", "create_app", "main"]
