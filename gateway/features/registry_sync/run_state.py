"""The state of one register sync run: counters, progress (with the percent), the run's report items."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.features.registry_sync.reconcile import Decision

REPORTED = ("added", "changed", "removed", "conflicting")
COUNTERS = (
    "added", "changed", "removed", "conflicting", "unchanged", "ignored", "out_of_scope", "retries",
    "eais_pushed", "eais_failed", "navigator_corrected", "navigator_failed",
)  # fmt: skip
T = TypeVar("T")


def cursor_name(municipality: str) -> str:
    return f"navigator.certificates.{municipality}"


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class SyncBusy(Exception):
    """Another sync of one of the municipalities is running."""

    def __init__(self, municipality: str) -> None:
        super().__init__(municipality)
        self.municipality = municipality


class SyncFailed(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


@dataclass
class Progress:
    """What a run has done so far; ``total`` is an estimate while the Navigator is being read."""

    run_id: str
    municipalities: tuple[str, ...]
    mode: str
    phase: str = "navigator"
    status: str = "running"
    processed: int = 0
    total: int | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    error: str | None = None

    @property
    def percent(self) -> float | None:
        if self.status in ("completed", "partial"):
            return 100.0
        if not self.total:
            return None
        return round(min(100.0, 100.0 * self.processed / self.total), 1)


@dataclass
class RunState:
    progress: Progress
    full: bool
    push_eais: bool
    push_navigator: bool
    owner: str
    start_cursor: str | None
    kept: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REPORTED, 0))
    eais_down: int = 0
    navigator_down: int = 0
    renewed_at: float = field(default_factory=time.monotonic)
    inserted: int = 0
    analyze_at: int = 5000  # PostgreSQL: refresh the planner's statistics as the register grows




def record_item(run: RunState, items: list[dict[str, Any]], limit: int, municipality: str, number: str, d: Decision) -> None:
    """Count the decision; keep the record's number (never its values) for the report, ``limit`` per outcome."""
    run.progress.counts[d.outcome] += 1
    if d.outcome in REPORTED and run.kept[d.outcome] < limit:
        run.kept[d.outcome] += 1
        detail: dict[str, Any] = {"fields": list(d.fields)}
        if d.reason:
            detail["reason"] = d.reason
        if d.push_navigator:
            detail["resolution"] = "navigator_corrected_from_gateway"
        items.append({"run_id": run.progress.run_id, "municipality": municipality, "number": number,
                      "outcome": d.outcome, "detail": detail})  # fmt: skip
