"""Emulated regional Navigator of additional education (stand-in REST API, lazily generated registries)."""
