"""Regional calendars: Tatarstan's own days off over the federal production calendar, each with its act."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.context import Context
from gateway.core.settings import Settings
from gateway.core.working_days import (
    FEDERAL,
    CalendarError,
    load_calendars,
    load_regional_calendar,
)
from gateway.municipalities import ProfileError, load_profiles

SETTINGS = Settings()
TATARSTAN_FILE = SETTINGS.calendars_dir / "ru-tatarstan.yaml"
CALENDARS = load_calendars(["ru-tatarstan"], SETTINGS.calendar_file, SETTINGS.calendars_dir)
RU, TA = CALENDARS[FEDERAL], CALENDARS["ru-tatarstan"]

LAW = "1448-XII"
# The Republic's days off 2023–2026: Republic Day and Constitution Day by the law, the two
# festivals on the dates the Rais's decree of each year set.
EXPECTED = {
    dt.date(2023, 4, 21): "Ураза-байрам",
    dt.date(2023, 6, 28): "Курбан-байрам",
    dt.date(2023, 8, 30): "День Республики Татарстан",
    dt.date(2023, 11, 6): "День Конституции Республики Татарстан",
    dt.date(2024, 4, 10): "Ураза-байрам",
    dt.date(2024, 6, 16): "Курбан-байрам",
    dt.date(2024, 8, 30): "День Республики Татарстан",
    dt.date(2024, 11, 6): "День Конституции Республики Татарстан",
    dt.date(2025, 3, 30): "Ураза-байрам",
    dt.date(2025, 6, 6): "Курбан-байрам",
    dt.date(2025, 8, 30): "День Республики Татарстан",
    dt.date(2025, 11, 6): "День Конституции Республики Татарстан",
    dt.date(2026, 3, 20): "Ураза-байрам",
    dt.date(2026, 5, 27): "Курбан-байрам",
    dt.date(2026, 8, 30): "День Республики Татарстан",
    dt.date(2026, 11, 6): "День Конституции Республики Татарстан",
    # 2027: the law's days only; the Rais's decree on the festivals is not out yet
    dt.date(2027, 8, 30): "День Республики Татарстан",
    dt.date(2027, 11, 6): "День Конституции Республики Татарстан",
}


def test_the_data_file_lists_each_regional_day_with_its_act() -> None:
    region = load_regional_calendar(TATARSTAN_FILE)
    assert region.extends == FEDERAL and LAW in region.source
    assert {d.date: d.name for d in region.days_off} == EXPECTED
    assert region.working_weekends == []
    for day in region.days_off:
        if day.date.month in (8, 11) and day.date.day in (30, 6):
            assert LAW in day.source, day
        else:  # the festivals: the year's decree, and where its signature was reported
            assert "Указ Раиса РТ" in day.source and "https://" in day.source, day


def test_each_decreed_year_has_its_four_days() -> None:
    for year in range(TA.first_year, 2027):
        names = sorted(name for day, name in EXPECTED.items() if day.year == year)
        assert names == sorted(
            [
                "Ураза-байрам",
                "Курбан-байрам",
                "День Республики Татарстан",
                "День Конституции Республики Татарстан",
            ]
        )


@pytest.mark.parametrize("day", [d for d in EXPECTED if d.weekday() < 5])
def test_a_weekday_holiday_is_off_in_tatarstan_only(day: dt.date) -> None:
    assert not TA.is_working_day(day)
    if day != dt.date(2023, 11, 6):  # also the federal day off moved from Saturday 4 November 2023
        assert RU.is_working_day(day)


@pytest.mark.parametrize(
    "monday",
    [dt.date(2024, 6, 17), dt.date(2025, 3, 31), dt.date(2025, 9, 1), dt.date(2026, 8, 31)],
)
def test_a_holiday_on_the_weekend_is_not_moved(monday: dt.date) -> None:
    # Kurban-bayram 16.06.2024, Uraza-bayram 30.03.2025, Republic Day 30.08.2025 and 30.08.2026
    # fell on a weekend: since 2017 the Republic gives no extra day off.
    assert TA.is_working_day(monday) and RU.is_working_day(monday)


def test_friday_span_over_republic_day() -> None:
    # Friday 23 August 2024 + 5 working days: Friday 30 August is Republic Day in Tatarstan.
    assert RU.add_working_days(dt.date(2024, 8, 23), 5) == dt.date(2024, 8, 30)
    assert TA.add_working_days(dt.date(2024, 8, 23), 5) == dt.date(2024, 9, 2)


def test_holiday_week_with_federal_and_regional_days() -> None:
    # From Friday 1 November 2024: Saturday 2 November is worked (federal transfer), Monday 4 is
    # Unity Day, Wednesday 6 is Constitution Day of Tatarstan.
    assert RU.add_working_days(dt.date(2024, 11, 1), 3) == dt.date(2024, 11, 6)
    assert TA.add_working_days(dt.date(2024, 11, 1), 3) == dt.date(2024, 11, 7)
    # Monday 6 November 2023 is off twice over and counted once.
    assert TA.add_working_days(dt.date(2023, 11, 3), 1) == RU.add_working_days(dt.date(2023, 11, 3), 1)


def test_kurban_bayram_2026() -> None:
    assert RU.add_working_days(dt.date(2026, 5, 25), 3) == dt.date(2026, 5, 28)
    assert TA.add_working_days(dt.date(2026, 5, 25), 3) == dt.date(2026, 5, 29)


def test_2027_counts_the_laws_days_and_warns_that_the_festivals_are_missing() -> None:
    """Without the 2027 decree the law's own days still count, and the profile says what is missing."""
    assert TA.add_working_days(dt.date(2027, 8, 27), 1) == dt.date(2027, 8, 31)  # Fri → Tue: Republic Day
    assert RU.add_working_days(dt.date(2027, 8, 27), 1) == dt.date(2027, 8, 30)
    assert TA.add_working_days(dt.date(2026, 12, 25), 10)  # a window into 2027 is computed
    warnings = {w.code for w in load_profiles(Settings().municipalities_dir)["leninogorsk"].warnings}
    assert "regional_calendar_incomplete" in warnings


@given(st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2026, 10, 31)), st.integers(1, 30))
def test_tatarstan_never_ends_earlier_and_differs_only_by_its_days(start: dt.date, n: int) -> None:
    end = TA.add_working_days(start, n)
    assert end >= RU.add_working_days(start, n)
    extra = sum(1 for d in EXPECTED if start < d <= end and d.weekday() < 5 and RU.is_working_day(d))
    assert RU.working_days_between(start, end) == n + extra


def _region(tmp_path: Path, name: str, body: str) -> Path:
    (tmp_path / f"{name}.yaml").write_text(body, encoding="utf-8")
    return tmp_path


HEAD = "name: X\nsource: закон\nfirst_year: 2024\nlast_year: 2024\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("id: ru-x\nextends: ru\n" + HEAD + "days_off: [{date: 2024-08-30, name: Д}]\n", "source"),
        (
            "id: ru-x\nextends: ru\n" + HEAD + "days_off: [{date: 2025-08-30, name: Д, source: s}]\n",
            "2025-08-30",
        ),
        ("id: ru-y\nextends: ru\n" + HEAD + "days_off: []\n", "именем файла"),
        ("id: ru-x\nextends: ru-x\n" + HEAD + "days_off: []\n", "сам себя"),
        ("id: ru-x\nextends: ru-z\n" + HEAD + "days_off: []\n", "ru-z"),
        (
            "id: ru-x\nextends: ru\n" + HEAD + "days_off: []\n"
            "working_weekends: [{date: 2024-08-30, name: Д, source: s}]\n",
            "не суббота",
        ),
    ],
)
def test_a_bad_regional_file_is_refused(tmp_path: Path, body: str, message: str) -> None:
    directory = _region(tmp_path, "ru-x", body)
    with pytest.raises(CalendarError, match=message):
        load_calendars(["ru-x"], SETTINGS.calendar_file, directory)


def test_a_regional_working_saturday_and_a_cycle(tmp_path: Path) -> None:
    _region(tmp_path, "ru-a", "id: ru-a\nextends: ru-b\n" + HEAD + "days_off: []\n")
    _region(tmp_path, "ru-b", "id: ru-b\nextends: ru-a\n" + HEAD + "days_off: []\n")
    with pytest.raises(CalendarError, match="по кругу"):
        load_calendars(["ru-a"], SETTINGS.calendar_file, tmp_path)
    _region(
        tmp_path, "ru-c",
        "id: ru-c\nextends: ru\n" + HEAD + "days_off: [{date: 2024-09-02, name: Перенос, source: указ}]\n"
        "working_weekends: [{date: 2024-09-07, name: Рабочая суббота, source: указ}]\n",
    )  # fmt: skip
    cal = load_calendars(["ru-c"], SETTINGS.calendar_file, tmp_path)["ru-c"]
    assert not cal.is_working_day(dt.date(2024, 9, 2)) and cal.is_working_day(dt.date(2024, 9, 7))
    # A calendar extending a regional one may not make that one's holiday on a Saturday working.
    _region(
        tmp_path,
        "ru-e",
        "id: ru-e\nextends: ru\n" + HEAD + "days_off: [{date: 2024-08-31, name: Д, source: s}]\n",
    )
    _region(
        tmp_path, "ru-f",
        "id: ru-f\nextends: ru-e\n" + HEAD + "days_off: []\n"
        "working_weekends: [{date: 2024-08-31, name: Д, source: s}]\n",
    )  # fmt: skip
    with pytest.raises(CalendarError, match="делает рабочими"):
        load_calendars(["ru-f"], SETTINGS.calendar_file, tmp_path)


def test_every_calendar_file_loads_and_profiles_name_their_region() -> None:
    regional = [p.stem for p in SETTINGS.calendars_dir.glob("*.yaml") if p != SETTINGS.calendar_file]
    assert "ru-tatarstan" in regional
    assert set(load_calendars(regional, SETTINGS.calendar_file, SETTINGS.calendars_dir)) == {
        FEDERAL,
        *regional,
    }
    profiles = load_profiles(SETTINGS.municipalities_dir)
    assert profiles["leninogorsk"].calendar == "ru-tatarstan"
    assert {p.calendar for m, p in profiles.items() if m != "leninogorsk"} == {FEDERAL}


async def test_a_profile_naming_no_calendar_stops_the_start(tmp_path: Path) -> None:
    directory = tmp_path / "m"
    directory.mkdir()
    for path in SETTINGS.municipalities_dir.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.stem == "leninogorsk":
            text = text.replace("calendar: ru-tatarstan", "calendar: ru-tatarsan")
        (directory / path.name).write_text(text, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "var", municipalities_dir=directory)
    with pytest.raises(ProfileError, match="leninogorsk.yaml: calendar: .*ru-tatarsan"):
        await Context.open(settings)


def test_a_broken_calendar_file_stops_the_cli_with_a_message(tmp_path: Path) -> None:
    from tests.app.test_journal_and_cli import run_cli

    calendars = tmp_path / "calendars"
    calendars.mkdir()
    (calendars / "ru-tatarstan.yaml").write_text("id: ru-tatarstan\nextends: ru\n", encoding="utf-8")
    env = {"GATEWAY_DATA_DIR": str(tmp_path / "var"), "GATEWAY_CALENDARS_DIR": str(calendars)}
    result = run_cli("tokens", "list", env=env)
    assert result.returncode == 2 and "calendar_invalid" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
