"""Everything a request, a background task or a command needs, built once per process.

One context holds the settings, the database, the municipality profiles, the working-day
calendars (federal and regional, by id, read once; :meth:`Context.calendar_for` gives a
municipality's), the clock, the one :class:`~gateway.core.keyring.KeyRing` (keys are loaded
once) and one client per external system (:class:`~gateway.systems.SystemAdapters`: one circuit
breaker and one rate limit per system, shared by the transport, the pollers, the registry
sync and ``/readyz``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.core.clock import Clock
from gateway.core.keyring import KeyRing
from gateway.core.logs import quiet_parameter_loggers
from gateway.core.settings import Settings
from gateway.core.working_days import FEDERAL, WorkingCalendar, load_calendars
from gateway.municipalities import Profile, ProfileError, load_profiles
from gateway.store.db import Database
from gateway.store.migrate import upgrade
from gateway.systems import SystemAdapters


@dataclass
class Context:
    settings: Settings
    db: Database
    profiles: dict[str, Profile]
    calendars: dict[str, WorkingCalendar]
    clock: Clock
    keys: KeyRing = field(init=False)
    systems: SystemAdapters = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyRing(
            self.settings.effective_keys_file, self.settings.effective_pki_dir,
            revocation=self.settings.revocation, data_dir=self.settings.data_dir, pkcs11=self.settings.keys,
            tsl_signer_cert=self.settings.trust.tsl_signer_cert,
        )  # fmt: skip
        self.systems = SystemAdapters(self.settings, self.keys)

    def calendar_for(self, profile: Profile) -> WorkingCalendar:
        """The municipality's calendar: its region's days off count, not only the federal ones."""
        return self.calendars[profile.calendar]

    @classmethod
    async def open(cls, settings: Settings, clock: Clock | None = None, migrate: bool = True) -> Context:
        quiet_parameter_loggers()
        profiles = load_profiles(settings.municipalities_dir)
        calendars = _calendars(settings, profiles)
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
            calendars=calendars,
            clock=clock or Clock(settings.timezone),
        )

    async def close(self) -> None:
        await self.keys.close()
        await self.systems.close()
        await self.db.dispose()


def _calendars(settings: Settings, profiles: dict[str, Profile]) -> dict[str, WorkingCalendar]:
    """Every calendar a profile names, read once; a profile naming none that exists is a profile error."""
    for profile in profiles.values():
        if (
            profile.calendar != FEDERAL
            and not (settings.calendars_dir / f"{profile.calendar}.yaml").is_file()
        ):
            raise ProfileError(
                f"{profile.id}.yaml: calendar: нет календаря {profile.calendar!r} в {settings.calendars_dir}"
            )
    return load_calendars(
        {p.calendar for p in profiles.values()}, settings.calendar_file, settings.calendars_dir
    )
