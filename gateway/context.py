"""Everything a request or a command needs, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.clock import Clock
from gateway.logs import quiet_parameter_loggers
from gateway.municipalities import Profile, load_profiles
from gateway.settings import Settings
from gateway.store.db import Database
from gateway.store.migrate import upgrade
from gateway.working_days import WorkingCalendar, load_calendar


@dataclass
class Context:
    settings: Settings
    db: Database
    profiles: dict[str, Profile]
    calendar: WorkingCalendar
    clock: Clock

    @classmethod
    async def open(cls, settings: Settings, clock: Clock | None = None, migrate: bool = True) -> Context:
        quiet_parameter_loggers()
        profiles = load_profiles(settings.municipalities_dir)
        db = Database(settings.effective_database_url)
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
        await self.db.dispose()
