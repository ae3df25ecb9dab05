"""A sync run's speed and time left, from what the run row records (pure)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Speed:
    """Records per second since the start and seconds left at that rate (``None`` while unknown)."""

    rate: float | None
    eta_s: float | None


def _stamp(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def speed(processed: int, total: int | None, started_at: str | None, updated_at: str | None) -> Speed:
    """The average rate over the run so far; the ETA only when the total is known and work remains."""
    start, last = _stamp(started_at), _stamp(updated_at)
    if start is None or last is None or processed <= 0:
        return Speed(None, None)
    elapsed = (last - start).total_seconds()
    if elapsed <= 0:
        return Speed(None, None)
    rate = processed / elapsed
    if total is None or total <= 0:
        return Speed(rate, None)
    return Speed(rate, max(total - processed, 0) / rate)


def duration_text(seconds: float | None) -> str:
    """``1 ч 02 мин``, ``3 мин 05 с``, ``12 с``; a dash when unknown."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} ч {minutes:02d} мин"
    if minutes:
        return f"{minutes} мин {secs:02d} с"
    return f"{secs} с"


def progress_json(run: dict[str, Any]) -> dict[str, Any]:
    """What the run page polls: counts, percent, rate and ETA, status."""
    sp = speed(run["processed"], run["total"], run["started_at"], run["updated_at"])
    return {
        "run_id": run["run_id"], "status": run["status"], "phase": run["phase"], "processed": run["processed"],
        "total": run["total"], "percent": run["percent"],
        "rate": round(sp.rate, 1) if sp.rate is not None else None,
        "eta": duration_text(sp.eta_s) if run["status"] == "running" else "—",
        "done": run["status"] != "running",
    }  # fmt: skip
