"""The records of the emulated budget.gov.ru registries, shared with the Electronic Budget emulator.

When both emulators run in one process (``gateway emulators``, the tests) the Electronic
Budget emulator publishes straight into this store; run apart, it posts to the portal's
control API (``POST /_emulator/registries/{registry}/records``), which lands here too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

# Registries the emulated portal serves (stand-in names for the social order).
DEFAULT_REGISTRIES = ("socialorders", "socialorderreports")


class RegistryStore:
    """Records per registry, in the order they were published (``loaddate`` order)."""

    def __init__(self, registries: tuple[str, ...] = DEFAULT_REGISTRIES) -> None:
        self._records: dict[str, list[dict[str, Any]]] = {name: [] for name in registries}

    def registries(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self._records.items()}

    def knows(self, registry: str) -> bool:
        return registry in self._records

    def records(self, registry: str) -> list[dict[str, Any]]:
        return self._records[registry]

    def publish(self, registry: str, record: dict[str, Any]) -> dict[str, Any]:
        """Add (or replace, by ``id``) one record; returns it with ``id`` and ``loaddate`` filled."""
        rows = self._records.setdefault(registry, [])
        row = dict(record)
        row.setdefault("id", f"{registry}-{len(rows) + 1:08d}")
        row.setdefault("loaddate", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        for i, existing in enumerate(rows):
            if existing["id"] == row["id"]:
                rows[i] = row
                return row
        rows.append(row)
        return row

    def clear(self, registry: str | None = None) -> None:
        for name in [registry] if registry else list(self._records):
            if name in self._records:
                self._records[name] = []
