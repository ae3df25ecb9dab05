"""Working-day arithmetic on the Russian production calendar (holiday transfers 2023–2027)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.settings import Settings
from gateway.core.working_days import CalendarRangeError, WorkingCalendar, export_calendar, load_calendar

CAL = load_calendar(Settings().calendar_file)
DAYS = st.dates(min_value=dt.date(2023, 1, 1), max_value=dt.date(2027, 10, 31))


def test_committed_calendar_matches_the_holidays_package(tmp_path) -> None:
    assert Settings().calendar_file.read_text(encoding="utf-8") == export_calendar(2023, 2027)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (dt.date(2024, 4, 27), True),  # Saturday worked, transferred to 29 April
        (dt.date(2024, 4, 29), False),
        (dt.date(2024, 12, 28), True),  # Saturday worked, transferred to 31 December
        (dt.date(2024, 12, 31), False),
        (dt.date(2025, 11, 1), True),
        (dt.date(2025, 11, 3), False),
        (dt.date(2023, 2, 24), False),  # transferred from 1 January
        (dt.date(2026, 1, 9), False),
        (dt.date(2026, 12, 31), False),
        (dt.date(2024, 6, 12), False),  # Russia Day
        (dt.date(2024, 6, 11), True),
        (dt.date(2024, 6, 15), False),  # an ordinary Saturday
    ],
)
def test_known_days(day: dt.date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


def test_friday_plus_three_working_days_is_wednesday() -> None:
    assert CAL.add_working_days(dt.date(2024, 3, 15), 3) == dt.date(2024, 3, 20)


def test_holiday_week_is_skipped() -> None:
    # Approval on Friday 26 April 2024: Sat 27 is a working day, 29 Apr–1 May are days off.
    assert CAL.add_working_days(dt.date(2024, 4, 26), 3) == dt.date(2024, 5, 3)
    # New-year holidays: 29 Dec 2023 + 3 working days lands after 8 January.
    assert CAL.add_working_days(dt.date(2023, 12, 29), 3) == dt.date(2024, 1, 11)


def test_outside_the_calendar_is_an_error_not_a_guess() -> None:
    with pytest.raises(CalendarRangeError):
        CAL.add_working_days(dt.date(2027, 12, 30), 3)
    with pytest.raises(CalendarRangeError):
        CAL.is_working_day(dt.date(2022, 12, 30))


@given(DAYS, st.integers(1, 30))
def test_result_is_a_working_day_exactly_n_after(start: dt.date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert end > start
    assert CAL.is_working_day(end)
    assert CAL.working_days_between(start, end) == n
    assert CAL.working_days_between(start, end - dt.timedelta(days=1)) == n - 1


@given(DAYS, st.integers(1, 15), st.integers(1, 15))
def test_adding_is_associative(start: dt.date, m: int, n: int) -> None:
    assert CAL.add_working_days(CAL.add_working_days(start, m), n) == CAL.add_working_days(start, m + n)


@given(DAYS, DAYS)
def test_between_counts_match_day_by_day(a: dt.date, b: dt.date) -> None:
    start, end = min(a, b), max(a, b)
    if (end - start).days > 400:
        end = start + dt.timedelta(days=400)
    if end.year > 2027:
        return
    expected = sum(CAL.is_working_day(start + dt.timedelta(days=i)) for i in range(1, (end - start).days + 1))
    assert CAL.working_days_between(start, end) == expected


def test_a_new_decree_needs_only_the_data_file(tmp_path) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text("first_year: 2030\nlast_year: 2030\ndays_off: [2030-01-07]\nworking_weekends: [2030-01-05]\n")
    cal: WorkingCalendar = load_calendar(path)
    assert cal.is_working_day(dt.date(2030, 1, 5))  # a Saturday made working
    assert not cal.is_working_day(dt.date(2030, 1, 7))
