"""Emulated EAIS DO (stand-in data-package API)."""
