"""Working-day arithmetic on the Russian production calendar (days off and working weekend days).

The calendar is a data file (``GATEWAY_CALENDAR_FILE``) so that a new government decree
on holiday transfers needs no code change; ``gateway calendar export`` regenerates it
from the ``holidays`` package, which already knows the transfers.  Outside the years the
file covers, every call raises :class:`CalendarRangeError` rather than guessing.
Deadlines "within N working days from the day of X" start counting on the day after X
(Civil Code art. 191): ``add_working_days(x, n)`` is the n-th working day after ``x``.

A region's own non-working days (a republic's holidays, set by its law and its head's
decrees) are a regional calendar file, ``<id>.yaml`` in ``GATEWAY_CALENDARS_DIR``, that
extends the federal one (id ``ru``) with those days and the act behind each; a
municipality's profile names its calendar.  A regional calendar covers only the years
both it and the calendar it extends cover, so a year whose regional dates are not yet
decreed is out of range rather than silently federal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ONE_DAY = dt.timedelta(days=1)

#: Id of the federal production calendar, the file ``GATEWAY_CALENDAR_FILE``.
FEDERAL = "ru"

#: A calendar's id: also its file name in ``GATEWAY_CALENDARS_DIR``, hence no dots or slashes.
CalendarId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")]


class CalendarRangeError(ValueError):
    """The date lies outside the years covered by the production calendar file."""


class CalendarError(ValueError):
    """A calendar that cannot be used: a missing or malformed file, or one contradicting its base."""


@dataclass(frozen=True)
class WorkingCalendar:
    first_year: int
    last_year: int
    days_off: frozenset[dt.date]
    working_weekends: frozenset[dt.date]
    name: str = "Производственный календарь"

    def _check(self, day: dt.date) -> None:
        if not self.first_year <= day.year <= self.last_year:
            raise CalendarRangeError(
                f"{self.name} покрывает {self.first_year}–{self.last_year} гг., дата {day} вне его"
            )

    def is_working_day(self, day: dt.date) -> bool:
        self._check(day)
        if day in self.working_weekends:
            return True
        return day.weekday() < 5 and day not in self.days_off

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after ``start`` (n >= 1); ``start`` itself is not counted."""
        if n < 1:
            raise ValueError("n must be at least 1")
        day = start
        while n:
            day += ONE_DAY
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Number of working days in the half-open interval (start, end]."""
        if end <= start:
            return 0
        count, day = 0, start
        while day < end:
            day += ONE_DAY
            count += self.is_working_day(day)
        return count


def load_calendar(path: Path) -> WorkingCalendar:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return WorkingCalendar(
        first_year=int(data["first_year"]),
        last_year=int(data["last_year"]),
        days_off=frozenset(data.get("days_off") or ()),
        working_weekends=frozenset(data.get("working_weekends") or ()),
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionalDay(_Strict):
    """One day the region's own act decides, with that act."""

    date: dt.date
    name: str = Field(min_length=1)
    source: str = Field(min_length=1)


class RegionalCalendar(_Strict):
    """A regional calendar file: the days a region adds to the calendar it ``extends``.

    ``days_off`` are the region's non-working days (those on a weekend too, so the file is
    the whole list of the act); ``working_weekends`` are weekend days a regional act makes
    working in exchange for a transferred day off.  Every day carries its legal source.
    """

    id: CalendarId
    name: str = Field(min_length=1)
    extends: CalendarId
    source: str = Field(min_length=1)
    first_year: int
    last_year: int
    days_off: list[RegionalDay]
    working_weekends: list[RegionalDay] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> RegionalCalendar:
        problems: list[str] = []
        if self.extends == self.id:
            problems.append("календарь расширяет сам себя")
        if self.first_year > self.last_year:
            problems.append("first_year позже last_year")
        days = [d.date for d in (*self.days_off, *self.working_weekends)]
        problems += [
            f"{d} вне {self.first_year}–{self.last_year} гг."
            for d in days
            if not self.first_year <= d.year <= self.last_year
        ]
        problems += [f"{d} указан дважды" for d in sorted(set(days)) if days.count(d) > 1]
        problems += [
            f"рабочий выходной {d.date} не суббота и не воскресенье"
            for d in self.working_weekends
            if d.date.weekday() < 5
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_regional_calendar(path: Path) -> RegionalCalendar:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return RegionalCalendar.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise CalendarError(f"{path.name}: файл календаря не прочитан: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = "/".join(str(p) for p in first["loc"])
        where = f"{loc}: " if loc else ""
        raise CalendarError(f"{path.name}: {where}{first['msg']}") from None


def extend(base: WorkingCalendar, region: RegionalCalendar) -> WorkingCalendar:
    """``base`` with the region's days: the years both cover, a regional day off never a working weekend."""
    off = frozenset(d.date for d in region.days_off)
    worked = frozenset(d.date for d in region.working_weekends)
    first, last = max(base.first_year, region.first_year), min(base.last_year, region.last_year)
    if first > last:
        raise CalendarError(f"календарь {region.id!r} не пересекается по годам с {region.extends!r}")
    if clash := sorted(worked & base.days_off):
        raise CalendarError(
            f"календарь {region.id!r} делает рабочими нерабочие дни {region.extends!r}: {clash}"
        )
    return WorkingCalendar(
        first_year=first,
        last_year=last,
        days_off=base.days_off | off,
        working_weekends=(base.working_weekends - off) | worked,
        name=f"Календарь рабочих дней ({region.name})",
    )


def load_calendars(ids: Iterable[str], federal_file: Path, directory: Path) -> dict[str, WorkingCalendar]:
    """The federal calendar and each calendar ``ids`` name (with what they extend), each read once.

    ``ru`` is ``federal_file``; any other id is ``directory/<id>.yaml``, a :class:`RegionalCalendar`.
    """
    calendars = {FEDERAL: load_calendar(federal_file)}

    def get(calendar_id: str, chain: tuple[str, ...]) -> WorkingCalendar:
        if calendar_id in calendars:
            return calendars[calendar_id]
        if calendar_id in chain:
            raise CalendarError(
                f"календари расширяют друг друга по кругу: {' → '.join((*chain, calendar_id))}"
            )
        path = directory / f"{calendar_id}.yaml"
        if not path.is_file():
            raise CalendarError(f"нет календаря {calendar_id!r}: файла {path} нет")
        region = load_regional_calendar(path)
        if region.id != calendar_id:
            raise CalendarError(f"{path.name}: id {region.id!r} должен совпадать с именем файла")
        calendars[calendar_id] = extend(get(region.extends, (*chain, calendar_id)), region)
        return calendars[calendar_id]

    for calendar_id in ids:
        get(calendar_id, ())
    return calendars


def export_calendar(first_year: int, last_year: int) -> str:
    """Render the calendar file for the given years from the ``holidays`` package."""
    import holidays
    from holidays.version import __version__ as holidays_version

    ru = holidays.country_holidays("RU", years=range(first_year, last_year + 1))
    days_off = sorted(d for d in ru if d.weekday() < 5)
    working = sorted(d for d in ru.weekend_workdays if first_year <= d.year <= last_year)
    lines = [
        "# Производственный календарь Российской Федерации: нерабочие праздничные дни и перенесённые",
        "# выходные, выпадающие на будни (days_off), и рабочие субботы/воскресенья (working_weekends).",
        f"# Generated by `gateway calendar export {first_year} {last_year}` from the holidays package",
        f"# (version {holidays_version}); check against the government decree on holiday transfers",
        "# for each year and edit by hand if a decree changes.",
        f"first_year: {first_year}",
        f"last_year: {last_year}",
        "days_off:",
        *(f"  - {d.isoformat()}  # {ru.get(d)}" for d in days_off),
        "working_weekends:",
        *(f"  - {d.isoformat()}" for d in working),
    ]
    return "\n".join(lines) + "\n"
