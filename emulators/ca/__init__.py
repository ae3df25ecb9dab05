"""Emulated certification authority: its CRL at a distribution point and an OCSP responder."""
