"""EAIS DO: push data packages of providers, programmes, certificates and contracts (coverage)."""

from adapters.eais.client import EaisAdapter

__all__ = ["EaisAdapter"]
