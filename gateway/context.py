"""Everything a request, a background task or a command needs, built once per process.

One context holds the settings, the database, the municipality profiles, the working-day
calendar, the clock, the one :class:`~gateway.core.keyring.KeyRing` (keys are loaded once)
and one client per external system (:class:`~gateway.systems.SystemAdapters`: one circuit
breaker and one rate limit per system, shared by the transport, the pollers, the registry
sync and ``/readyz``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.clock import Clock
from gateway.core.keyring import KeyRing
from gateway.core.logs import quiet_parameter_loggers
from gateway.core.settings import Settings
from gateway.core.working_days import WorkingCalendar, load_calendar
from gateway.municipalities import Profile, load_profiles
from gateway.store.db import Database
from gateway.store.migrate import upgrade
from gateway.systems import SystemAdapters


@dataclass
class Context:
    settings: Settings
    db: Database
    profiles: dict[str, Profile]
    calendar: WorkingCalendar
    clock: Clock
    keys: KeyRing = field(init=False)
    systems: SystemAdapters = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyRing(self.settings.effective_keys_file, self.settings.effective_pki_dir)
        self.systems = SystemAdapters(self.settings, self.keys)

    @classmethod
    async def open(cls, settings: Settings, clock: Clock | None = None, migrate: bool = True) -> Context:
        quiet_parameter_loggers()
        profiles = load_profiles(settings.municipalities_dir)
        dbs = settings.database
        db = Database(
            settings.effective_database_url, synchronous=dbs.sqlite_synchronous,
            max_batch_callers=dbs.group_commit_max_callers, max_batch_s=dbs.group_commit_max_batch_s,
            pool_size=dbs.pool_size,
        )  # fmt: skip
        if migrate:
            await upgrade(db)
        return cls(
            settings=settings,
            db=db,
            profiles=profiles,
            calendar=load_calendar(settings.calendar_file),
            clock=clock or Clock(settings.timezone),
        )

    async def close(self) -> None:
        await self.systems.close()
        await self.db.dispose()
