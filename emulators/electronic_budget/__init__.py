"""Emulated GIIS «Электронный бюджет» (stand-in SOAP service for social-order packages)."""
