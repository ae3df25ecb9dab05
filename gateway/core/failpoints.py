"""Named failpoints for crash tests: the process kills itself at a chosen step of a delivery.

A failpoint is a call ``failpoint(AFTER_DELIVER, system)`` at one step of the way of a
message.  It does nothing unless ``GATEWAY_FAILPOINTS`` names it when the process starts;
then the process sends itself SIGKILL there: no ``finally``, no ``atexit``, no flush, no
clean close of the broker channel or the database connection, as when the machine loses
power.  Crash tests start a ``gateway serve`` or ``gateway worker`` with it, let it die,
restart it without, and check that every message is delivered exactly once.

``GATEWAY_FAILPOINTS`` is a comma-separated list of ``point[:scope][@n]``:

- ``point``: one of :data:`POINTS`;
- ``scope``: the system the step works for (``after_deliver:eais_do``); none for any system;
- ``n``: die at the ``n``-th pass through the point in this process (default: the first).

It is read once, at import, directly from the environment and not through the settings: it
is a switch for tests, not a setting of the gateway, and it must act the same way in
every process whatever its settings.  Unset (always, in production), :func:`failpoint`
returns at its first line.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

ENV = "GATEWAY_FAILPOINTS"

#: The consumer: the adapter's call returned, the transaction recording it is not committed.
AFTER_DELIVER = "after_deliver"
#: The consumer: the record (delivery status, journal, inbox key) is committed, the message not acked.
AFTER_COMMIT = "after_commit"
#: The outbox relay: the broker confirmed the publish, the rows are not marked sent.
AFTER_PUBLISH = "after_publish"
POINTS = (AFTER_DELIVER, AFTER_COMMIT, AFTER_PUBLISH)

ANY = "*"


@dataclass
class _Armed:
    at: int  # die at this pass
    passes: int = 0


def parse(spec: str) -> dict[tuple[str, str], int]:
    """``point[:scope][@n], …`` → ``{(point, scope or "*"): n}``; an unknown point is an error."""
    out: dict[tuple[str, str], int] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, _, count = item.partition("@")
        point, _, scope = name.partition(":")
        if point not in POINTS:
            raise ValueError(f"{ENV}: unknown failpoint {point!r} (known: {', '.join(POINTS)})")
        try:
            at = int(count) if count else 1
        except ValueError:
            raise ValueError(f"{ENV}: {item!r}: the pass number after @ must be an integer") from None
        if at < 1:
            raise ValueError(f"{ENV}: {item!r}: the pass number after @ starts at 1")
        out[(point, scope or ANY)] = at
    return out


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Failpoints:
    """The armed failpoints of one process; :func:`failpoint` uses the one built from the environment."""

    def __init__(self, armed: Mapping[tuple[str, str], int], kill: Callable[[], None] = _kill) -> None:
        self._armed = {key: _Armed(at) for key, at in armed.items()}
        self._kill = kill

    def hit(self, point: str, scope: str | None = None) -> None:
        """One pass through ``point`` for ``scope``: kill the process if this is the armed pass."""
        for key in {(point, scope or ANY), (point, ANY)}:
            armed = self._armed.get(key)
            if armed is None:
                continue
            armed.passes += 1
            if armed.passes == armed.at:
                self._kill()


_SPEC = parse(os.environ.get(ENV, ""))
_ACTIVE: Failpoints | None = Failpoints(_SPEC) if _SPEC else None


def failpoint(point: str, scope: str | None = None) -> None:
    """Die here if ``GATEWAY_FAILPOINTS`` arms this point (for ``scope``); otherwise nothing."""
    if _ACTIVE is None:
        return
    _ACTIVE.hit(point, scope)
