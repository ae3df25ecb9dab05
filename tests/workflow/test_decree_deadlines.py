"""The decrees' own deadlines, exactly: the annual order, the indicator values, the plan rows.

Every date is read by its words (000–004 in ``../shared/seeds``): «до <date>» ends the day
before, a bare date (Livny plan 3.1) ends on the date, «с <date>» starts the work and has no
end.  Calendar dates are never moved to a working day (no decree item counts them in working
days): a Friday or a holiday-week due day is the last day, the next day is late.  Each test
id names the decree file and item.  Through the API, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.core.settings import Settings
from gateway.municipalities import load_profiles
from gateway.store.tables import journal
from gateway.workflow.decree_deadlines import classify, last_day
from tests.support.decrees import SEEDS
from tests.support.gateway import Api, error_codes, set_today
from tests.workflow.deadline_helpers import AUTH, body_token, deadlines, publish_on_portal

PROFILES = load_profiles(Settings().municipalities_dir)
MONTHS = {"января": 1, "февраля": 2, "марта": 3, "апреля": 4, "мая": 5, "июня": 6, "июля": 7, "августа": 8,
          "сентября": 9, "октября": 10, "ноября": 11, "декабря": 12}  # fmt: skip
PAPER = {"registration_number": "17-П", "scan_sha256": "ab" * 32}


def flat(text: str) -> str:
    return " ".join(text.split())


def verbatim(words: str, text: str) -> bool:
    """``words`` are in ``text`` as printed, or in two pieces where the table's layout breaks the cell."""
    if flat(words) in text:
        return True
    parts = flat(words).split(" ")
    for i in range(3, len(parts) - 2):
        head, tail = " ".join(parts[:i]), " ".join(parts[i:])
        at = text.find(head)
        if at >= 0 and 0 <= text.find(tail, at + len(head)) - (at + len(head)) <= 300:
            return True
    return False


def seed_text(municipality: str) -> str:
    seed = PROFILES[municipality].decree.seed_file
    if seed is None or not (SEEDS / seed).exists():
        pytest.skip("тексты постановлений (../shared/seeds) не найдены рядом с репозиторием")
    return flat((SEEDS / seed).read_text(encoding="utf-8"))


async def order(api: Api, municipality: str, year: int, *, paper: dt.date | None = None, date: dt.date | None = None) -> str:
    """A social order for ``year``, submitted and approved today by the authorized body."""
    token = await body_token(api, municipality)
    payload = await api.example("social_order", municipality)
    payload.update(year=year, planning_years=[year + 1, year + 2])
    for service in payload["services"]:
        service["volumes"] = [{**v, "year": y} for v, y in zip(service["volumes"], (year, year + 1, year + 2), strict=True)]
    if date is not None:
        payload["date"] = date.isoformat()
    if paper is not None:
        payload["paper"] = {**PAPER, "registered_on": paper.isoformat()}
    status, accepted = await api.submit(token, "social_order", municipality, payload)
    assert status == 202, accepted
    status, doc = await api.act(token, accepted["id"], "approve")
    assert status == 200, doc
    return str(accepted["id"])


async def confirm(api: Api, token: str, kind: str, **body: Any) -> tuple[int, Any]:
    return await api.call("POST", f"/api/v1/deadlines/{kind}/confirm", token, json=body)


async def journal_events(api: Api, municipality: str) -> list[tuple[str, dict[str, Any]]]:
    async with api.ctx.db.read() as conn:
        rows = (await conn.execute(
            sa.select(journal.c.event, journal.c.details)
            .where(journal.c.municipality == municipality, journal.c.document_id.is_(None),
                   journal.c.event.in_(("deadline_confirmed", "indicator_table_approved")))
            .order_by(journal.c.seq)
        )).all()  # fmt: skip
    return [(e, d) for e, d in rows]


# --------------------------------------------------------------------------- the words of each date
def test_last_day_by_the_words() -> None:
    """«до» ends the day before; «не позднее» and a bare date end on the day; «с» has no end."""
    day = dt.date(2023, 9, 1)
    assert last_day(day, "do") == dt.date(2023, 8, 31)
    assert last_day(day, "bare") == day and last_day(day, "ne_pozdnee") == day
    assert last_day(day, "s") is None
    assert classify(None, None, dt.date(2030, 1, 1)) == ("open", False)  # a start is never overdue


def _due_texts(municipality: str) -> list[tuple[str, Any]]:
    rule = PROFILES[municipality].annual_order
    assert rule is not None
    out: list[tuple[str, Any]] = [("annual_order.first_due", rule.first_due)]
    out += [(d.kind, d.due) for d in PROFILES[municipality].decree_deadlines]
    return out


@pytest.mark.parametrize("municipality", sorted(PROFILES))
def test_every_date_is_the_decree_s_words_and_read_by_them(municipality: str) -> None:
    """Each due date, title and result is verbatim in the decree, and the wording is the one its words say."""
    text = seed_text(municipality)
    rule = PROFILES[municipality].annual_order
    assert rule is not None
    if rule.annual_due is not None:  # «далее ежегодно до 1 января»
        assert rule.annual_due.text in text and rule.annual_due.wording == "do"
        assert (rule.annual_due.month, rule.annual_due.day) == (1, 1)
    for where, due in _due_texts(municipality):
        assert flat(due.text) in text, (where, due.text)
        words = due.text.casefold()
        expected = "do" if re.match(r"(в срок )?до ", words) else "s" if words.startswith("с ") else (
            "ne_pozdnee" if "не позднее" in words else "bare")  # fmt: skip
        assert due.wording == expected, (where, due.text)
        day, month, year = re.search(r"(\d{1,2}) (\w+) (\d{4})", due.text).groups()  # type: ignore[union-attr]
        assert due.date == dt.date(int(year), MONTHS[month], int(day)), (where, due.text)
    for d in PROFILES[municipality].decree_deadlines:
        assert verbatim(d.title, text), d.kind  # 000 plan 5.3 is broken across the table's page
        if d.result:
            assert d.result.replace(" ", "") in text.replace(" ", ""), d.kind  # 000 prints «сформирован ы»


# In the municipalities' terms: the last permissible day of each deadline (None: «с», no end).
LAST_DAYS = {
    # 000 plan 4.1 «До 1 ноября 2023 года»; it. 9 «в срок до 1 ноября 2023 года»; plan 5.1–5.3 «До 1 ноября
    # 2023 года»; plan 5.4 «С 1 ноября 2023 года»
    "leninogorsk": {"annual_2023": "2023-10-31", "indicator_values": "2023-10-31", "provider_registry": "2023-10-31",
                    "cost_agreements": "2023-10-31", "certificates": "2023-10-31", "provider_selection": None},
    # 001 plan 4.1 «До 1 марта 2023 года»; it. 10 «в срок до 01 сентября 2023 года»; plan 5.1, 5.2 «До 15
    # августа 2023 года»; plan 5.3 «До 1 сентября 2023 года»; no plan 5.4
    "luga": {"annual_2023": "2023-02-28", "indicator_values": "2023-08-31", "provider_registry": "2023-08-14",
             "cost_agreements": "2023-08-14", "certificates": "2023-08-31"},
    # 002 plan 3.1 «1 сентября 2023 года» (bare); plan 4.1, 4.2 «До 1 сентября 2023 года»; no indicator item
    "livny": {"annual_2023": "2023-09-01", "provider_registry": "2023-08-31", "cost_agreements": "2023-08-31"},
    # 003 plan 4.1 «До 1 марта 2023 года»; it. 10 «в срок до 1 сентября 2023 года»; plan 5.1, 5.2 «До 15
    # августа 2023 года»; plan 5.3 «До 1 сентября 2023 года»; plan 5.4 «С 1 сентября 2023 года»
    "kirovsky": {"annual_2023": "2023-02-28", "indicator_values": "2023-08-31", "provider_registry": "2023-08-14",
                 "cost_agreements": "2023-08-14", "certificates": "2023-08-31", "provider_selection": None},
    # 004 plan 4.1 «До 1 сентября 2023 года»; second it. 9 «в срок до 1 сентября 2023 года»; plan 5.1, 5.2
    # «До 15 августа 2023 года»; plan 5.3 «До 1 сентября 2023 года»; plan 5.4 «С 1 сентября 2023 года»
    "omsk": {"annual_2023": "2023-08-31", "indicator_values": "2023-08-31", "provider_registry": "2023-08-14",
             "cost_agreements": "2023-08-14", "certificates": "2023-08-31", "provider_selection": None},
}  # fmt: skip


@pytest.mark.parametrize("municipality", sorted(LAST_DAYS))
async def test_the_last_day_of_every_decree_deadline(api: Api, municipality: str) -> None:
    set_today(api.ctx, dt.date(2023, 1, 10))
    got = await deadlines(api, municipality)
    decree = {k: v for k, v in got.items() if isinstance(k, str) and v["category"] in ("plan", "indicator_values")}
    expected = dict(LAST_DAYS[municipality])
    assert got[("annual_social_order", 2023)]["due"] == expected.pop("annual_2023")
    assert {k: v["due"] for k, v in decree.items()} == expected
    assert all(v["status"] == "open" for v in decree.values())
    for kind in [k for k, v in expected.items() if v is None]:  # plan 5.4 «С …»: a start, never overdue
        assert decree[kind]["wording"] == "s" and decree[kind]["started_on"] is not None


async def test_later_cycles_are_due_on_31_december_before_the_year(api: Api) -> None:
    """000, 001, 003, 004 plan 4.1 «далее ежегодно до 1 января»; Livny plan 3.1 has no annual rule."""
    set_today(api.ctx, dt.date(2025, 6, 2))
    for municipality in ("leninogorsk", "luga", "kirovsky", "omsk"):
        got = await deadlines(api, municipality)
        assert [got[("annual_social_order", y)]["due"] for y in (2024, 2025, 2026)] == ["2023-12-31", "2024-12-31", "2025-12-31"]
        assert got[("annual_social_order", 2026)]["due_text"].endswith("до 1 января")
    livny = await deadlines(api, "livny")
    assert [k for k in livny if isinstance(k, tuple)] == [("annual_social_order", 2023)]


# --------------------------------------------------------------------------- annual order: Livny plan 3.1
@pytest.mark.parametrize(
    ("posted", "late"),
    [(dt.date(2023, 9, 1), False), (dt.date(2023, 9, 4), True)],
    ids=["002 plan 3.1 bare date: posted Friday 1 Sep on time", "002 plan 3.1: posted Monday 4 Sep late"],
)
async def test_livny_first_order_is_due_on_1_september_itself(api: Api, posted: dt.date, late: bool) -> None:
    """002 plan 3.1 «1 сентября 2023 года» (no «до»); placement = it. 10 posting on the body's website."""
    token = await body_token(api, "livny")
    set_today(api.ctx, dt.date(2023, 9, 1))  # Friday
    doc_id = await order(api, "livny", 2023, paper=dt.date(2023, 9, 1))  # 002 it. 7: on paper in 2023
    cycle = (await deadlines(api, "livny"))[("annual_social_order", 2023)]
    assert cycle["due"] == "2023-09-01" and cycle["wording"] == "bare" and cycle["due_text"] == "1 сентября 2023 года"
    assert cycle["status"] == "open" and cycle["approved_on"] == "2023-09-01"  # approved, not yet placed
    assert cycle["placement"] == "step:post_on_website"
    set_today(api.ctx, posted)
    if posted > dt.date(2023, 9, 1):  # Saturday 2 September is already late: no move to Monday
        set_today(api.ctx, dt.date(2023, 9, 2))
        assert (await deadlines(api, "livny"))[("annual_social_order", 2023)]["status"] == "overdue"
        set_today(api.ctx, posted)
    assert (await api.act(token, doc_id, "post_on_website"))[0] == 200
    cycle = (await deadlines(api, "livny"))[("annual_social_order", 2023)]
    assert cycle["status"] == "met" and cycle["met_on"] == posted.isoformat() and cycle["late"] is late
    # it. 10: the website step's own clock is 3 working days from approval (Fri 1 Sep → Wed 6 Sep): still met
    step = (await deadlines(api, "livny"))["post_on_website"]
    assert step["due"] == "2023-09-06" and step["status"] == "met" and step["late"] is False


async def test_livny_placement_is_not_confirmed_by_hand(api: Api) -> None:
    """002 it. 10: the posting is the profile's step, done on the document, not a confirmation."""
    set_today(api.ctx, dt.date(2023, 8, 30))
    await order(api, "livny", 2023, paper=dt.date(2023, 8, 30))
    status, problem = await confirm(api, await body_token(api, "livny"), "annual_social_order", municipality="livny",
                                    comment="Размещено", order_year=2023)  # fmt: skip
    assert status == 409 and problem["code"] == "deadline_tracked_by_gateway"


# --------------------------------------------------------------------------- annual order: approved and placed
@pytest.mark.parametrize(
    ("published", "late"),
    [(dt.date(2023, 8, 31), False), (dt.date(2023, 9, 1), True)],
    ids=["004 plan 4.1 до 1 сентября: published 31 Aug on time", "004 plan 4.1: published 1 Sep late"],
)
async def test_omsk_cycle_is_met_when_approved_and_placed(api: Api, published: dt.date, late: bool) -> None:
    """004 plan 4.1 «утвержден и размещен»; it. 8: placed on the unified budget portal."""
    token = await body_token(api, "omsk")
    set_today(api.ctx, dt.date(2023, 8, 21))
    doc_id = await order(api, "omsk", 2023)
    assert (await api.act(token, doc_id, "send"))[0] == 200
    set_today(api.ctx, dt.date(2023, 8, 31))
    cycle = (await deadlines(api, "omsk"))[("annual_social_order", 2023)]
    assert cycle["status"] == "open" and cycle["placed_on"] is None  # approval alone does not meet it
    set_today(api.ctx, dt.date(2023, 9, 1))
    if late:
        assert (await deadlines(api, "omsk"))[("annual_social_order", 2023)]["status"] == "overdue"
    await publish_on_portal(api, doc_id, published)
    cycle = (await deadlines(api, "omsk"))[("annual_social_order", 2023)]
    assert cycle["status"] == "met" and cycle["late"] is late
    assert cycle["approved_on"] == "2023-08-21" and cycle["placed_on"] == cycle["met_on"] == published.isoformat()


@pytest.mark.parametrize(
    ("published", "late"),
    [(dt.date(2024, 12, 31), False), (dt.date(2025, 1, 9), True)],
    ids=["001 plan 4.1 ежегодно до 1 января: 31 Dec 2024 (a day off) on time",
         "001 plan 4.1: first working day 9 Jan 2025 late"],
)
async def test_luga_annual_cycle_in_the_new_year_holiday_week(api: Api, published: dt.date, late: bool) -> None:
    """001 plan 4.1 «далее - ежегодно до 1 января»: the 2025 order by 31.12.2024, a day off that is not moved."""
    token = await body_token(api, "luga")
    set_today(api.ctx, dt.date(2024, 12, 27))  # Friday; 30 Dec – 8 Jan are days off
    doc_id = await order(api, "luga", 2025)
    assert (await api.act(token, doc_id, "send"))[0] == 200
    set_today(api.ctx, dt.date(2024, 12, 31))
    cycle = (await deadlines(api, "luga"))[("annual_social_order", 2025)]
    assert cycle["due"] == "2024-12-31" and cycle["status"] == "open"
    set_today(api.ctx, published)
    if late:  # 1 January: overdue, although the days off run to 8 January
        set_today(api.ctx, dt.date(2025, 1, 1))
        assert (await deadlines(api, "luga"))[("annual_social_order", 2025)]["status"] == "overdue"
    await publish_on_portal(api, doc_id, published)
    cycle = (await deadlines(api, "luga"))[("annual_social_order", 2025)]
    assert cycle["status"] == "met" and cycle["met_on"] == published.isoformat() and cycle["late"] is late


async def test_a_paper_order_is_placed_by_the_body_s_confirmation(api: Api) -> None:
    """003 it. 9: the 2023 order on paper never reaches Electronic Budget through the gateway; its placement
    (003 it. 8, plan 4.1 «До 1 марта 2023 года», due 28.02.2023) is confirmed by the authorized body."""
    token = await body_token(api, "kirovsky")
    set_today(api.ctx, dt.date(2023, 2, 20))
    status, problem = await confirm(api, token, "annual_social_order", municipality="kirovsky", comment="Размещён",
                                    order_year=2023)  # fmt: skip
    assert status == 409 and problem["code"] == "order_not_approved"
    doc_id = await order(api, "kirovsky", 2023, paper=dt.date(2023, 2, 20))
    assert (await api.act(token, doc_id, "send"))[1]["code"] == "paper_document_not_sendable"
    set_today(api.ctx, dt.date(2023, 3, 1))
    assert (await deadlines(api, "kirovsky"))[("annual_social_order", 2023)]["status"] == "overdue"
    comment = "Размещён на едином портале бюджетной системы финансовым органом 28.02.2023"
    status, problem = await confirm(api, token, "annual_social_order", municipality="kirovsky", comment=comment,
                                    order_year=2023, date="2023-02-19")  # fmt: skip
    assert status == 422 and problem["code"] == "effective_date_before_approval"
    status, cycle = await confirm(api, token, "annual_social_order", municipality="kirovsky", comment=comment,
                                  order_year=2023, date="2023-02-28")  # fmt: skip
    assert status == 200, cycle
    assert cycle["status"] == "met" and cycle["met_on"] == "2023-02-28" and cycle["late"] is False
    assert cycle["confirmation"] == {"on": "2023-02-28", "by": "authorized_body:administration", "comment": comment}
    status, problem = await confirm(api, token, "annual_social_order", municipality="kirovsky", comment=comment,
                                    order_year=2023)  # fmt: skip
    assert status == 409 and problem["code"] == "deadline_already_met"
    events = await journal_events(api, "kirovsky")
    assert [(e, d["kind"], d["period"], d["date"]) for e, d in events] == [
        ("deadline_confirmed", "annual_social_order", 2023, "2023-02-28")]


async def test_an_electronic_order_is_placed_only_through_the_portal(api: Api) -> None:
    """000 it. 7: an electronic order's placement is what budget.gov.ru shows, not a confirmation."""
    set_today(api.ctx, dt.date(2023, 10, 23))
    await order(api, "leninogorsk", 2023)
    token = await body_token(api, "leninogorsk")
    status, problem = await confirm(api, token, "annual_social_order", municipality="leninogorsk", comment="Размещён",
                                    order_year=2023)  # fmt: skip
    assert status == 409 and problem["code"] == "deadline_tracked_by_gateway"
    status, problem = await confirm(api, token, "annual_social_order", municipality="leninogorsk", comment="x",
                                    order_year=2019)  # fmt: skip
    assert status == 422 and problem["errors"][0]["pointer"] == "/order_year"


# --------------------------------------------------------------------------- indicator values
INDICATOR_DUE = {
    "leninogorsk": dt.date(2023, 10, 31),  # 000 it. 9 «в срок до 1 ноября 2023 года»
    "luga": dt.date(2023, 8, 31),  # 001 it. 10 «в срок до 01 сентября 2023 года»
    "kirovsky": dt.date(2023, 8, 31),  # 003 it. 10 «в срок до 1 сентября 2023 года»
    "omsk": dt.date(2023, 8, 31),  # 004 second it. 9 «в срок до 1 сентября 2023 года»
}
INDICATOR_IDS = {"leninogorsk": "000 it. 9", "luga": "001 it. 10", "kirovsky": "003 it. 10", "omsk": "004 second it. 9"}


@pytest.mark.parametrize("municipality", sorted(INDICATOR_DUE), ids=[INDICATOR_IDS[m] for m in sorted(INDICATOR_DUE)])
@pytest.mark.parametrize("late", [False, True], ids=["approved on the due day", "approved the next day"])
async def test_indicator_values_met_by_the_approved_table(api: Api, municipality: str, late: bool) -> None:
    due = INDICATOR_DUE[municipality]
    token = await body_token(api, municipality)
    set_today(api.ctx, due)
    item = (await deadlines(api, municipality))["indicator_values"]
    assert item["due"] == due.isoformat() and item["status"] == "open" and item["indicator_year"] == 2023
    assert item["source"] == INDICATOR_IDS[municipality].split(" ", 1)[1]
    if late:
        set_today(api.ctx, due + dt.timedelta(days=1))
        assert (await deadlines(api, municipality))["indicator_values"]["status"] == "overdue"
    body = {"municipality": municipality, "year": 2023, "comment": "Значения определены по пофакторному анализу"}
    status, table = await api.call("POST", "/api/v1/indicators/approve", token, json=body)
    assert status == 200, table
    assert table["approval"]["approved_on"] == api.ctx.clock.today().isoformat() and len(table["approval"]["sha256"]) == 64
    item = (await deadlines(api, municipality))["indicator_values"]
    assert item["status"] == "met" and item["late"] is late and item["met_on"] == api.ctx.clock.today().isoformat()
    assert item["confirmation"]["by"] == f"authorized_body:{AUTH[municipality]}"


async def test_indicator_table_approval_is_journaled_once_and_shown(api: Api) -> None:
    """004 second it. 9: the table of 2023 is approved once, with the values as computed that day."""
    token = await body_token(api, "omsk")
    set_today(api.ctx, dt.date(2023, 8, 30))
    provider = await api.token("omsk", "Пример", "provider", "7707083893")
    payload = api.own(provider, "provider_registry_application", await api.example("provider_registry_application", "omsk"))
    status, accepted = await api.submit(provider, "provider_registry_application", "omsk", payload)
    assert status == 202, accepted
    body = {"municipality": "omsk", "year": 2023, "comment": "Приказ департамента образования № 1"}
    status, table = await api.call("POST", "/api/v1/indicators/approve", token, json=body)
    assert status == 200 and table["approval"]["values"]["2.2"] == 1  # one applicant in 2023
    status, problem = await api.call("POST", "/api/v1/indicators/approve", token, json=body)
    assert status == 409 and problem["code"] == "indicator_table_already_approved"
    _, shown = await api.call("GET", "/api/v1/indicators?year=2023", token)
    assert shown["approval"] == table["approval"]
    _, other = await api.call("GET", "/api/v1/indicators?year=2022", token)
    assert other["approval"] is None
    (event, details), = await journal_events(api, "omsk")
    assert event == "indicator_table_approved" and details["year"] == 2023 and details["values"]["2.2"] == 1
    assert details["sha256"] == table["approval"]["sha256"] and details["comment"] == body["comment"]


@pytest.mark.parametrize(
    ("who", "body", "status", "code"),
    [
        ("provider", {"municipality": "omsk", "year": 2023, "comment": "x"}, 403, "action_forbidden"),
        ("body", {"municipality": "luga", "year": 2023, "comment": "x"}, 403, "municipality_forbidden"),
        ("body", {"municipality": "omsk", "year": 2024, "comment": "x"}, 422, "year_invalid"),
        ("body", {"municipality": "omsk", "year": True, "comment": "x"}, 422, "year_invalid"),
        ("body", {"municipality": "omsk", "year": 2023, "comment": " "}, 422, "comment_invalid"),
        ("body", {"municipality": "omsk", "year": 2023}, 422, "missing"),
        ("body", {"municipality": "omsk", "year": 2023, "comment": "x", "values": {}}, 422, "extra_forbidden"),
        ("body", {"municipality": "nowhere", "year": 2023, "comment": "x"}, 404, "unknown_municipality"),
    ],
)
async def test_indicator_approval_refuses_bad_input(api: Api, who: str, body: dict[str, Any], status: int, code: str) -> None:
    set_today(api.ctx, dt.date(2023, 8, 30))
    token = await (api.token("omsk", "Пример", "provider", "7707083893") if who == "provider" else body_token(api, "omsk"))
    got, problem = await api.call("POST", "/api/v1/indicators/approve", token, json=body)
    assert got == status and code in error_codes(problem), problem


async def test_livny_has_no_indicator_deadline(api: Api) -> None:
    """002 sets no date for the indicator values (its App. 3 leaves them to the «профакторного анализа»)."""
    assert "indicator_values" not in await deadlines(api, "livny")


# --------------------------------------------------------------------------- plan rows seen in the documents
async def _registry_application(api: Api, municipality: str, org: str) -> tuple[str, dict[str, Any]]:
    """A provider's D3, included in the registry (approved) today."""
    provider = await api.token(municipality, "Пример", "provider", "7707083893")
    payload = api.own(provider, "provider_registry_application",
                      await api.example("provider_registry_application", municipality))  # fmt: skip
    status, accepted = await api.submit(provider, "provider_registry_application", municipality, payload)
    assert status == 202, accepted
    token = await api.token(municipality, org, "authorized_body")
    status, doc = await api.act(token, accepted["id"], "approve")
    assert status == 200, doc
    return str(accepted["id"]), payload


@pytest.mark.parametrize(
    ("included", "late"),
    [(dt.date(2023, 8, 14), False), (dt.date(2023, 8, 15), True)],
    ids=["001 plan 5.1 до 15 августа: Monday 14 Aug on time", "001 plan 5.1: 15 Aug late"],
)
async def test_luga_registry_is_formed_by_the_first_inclusion(api: Api, included: dt.date, late: bool) -> None:
    """001 plan 5.1 «Формирование реестра исполнителей», «До 15 августа 2023 года»: the first D3 approved."""
    set_today(api.ctx, included)
    if late:
        assert (await deadlines(api, "luga"))["provider_registry"]["status"] == "overdue"
    await _registry_application(api, "luga", "support_centre")
    item = (await deadlines(api, "luga"))["provider_registry"]
    assert item["status"] == "met" and item["met_on"] == included.isoformat() and item["late"] is late
    assert item["met_by"] == "registry_formed" and item["result"] == "Реестр сформирован"


async def test_livny_registry_row_is_plan_4_1(api: Api) -> None:
    """002 plan 4.1 (selection and registry, «До 1 сентября 2023 года»): Thursday 31 Aug on time."""
    set_today(api.ctx, dt.date(2023, 8, 31))
    await _registry_application(api, "livny", "education_directorate")
    item = (await deadlines(api, "livny"))["provider_registry"]
    assert item["source"] == "plan 4.1" and item["status"] == "met" and item["late"] is False


@pytest.mark.parametrize(
    ("concluded", "late"),
    [(dt.date(2023, 8, 14), False), (dt.date(2023, 8, 15), True)],
    ids=["003 plan 5.2 до 15 августа: concluded 14 Aug on time", "003 plan 5.2: concluded 15 Aug late"],
)
async def test_kirovsky_agreements_met_by_the_first_agreement_concluded(api: Api, concluded: dt.date, late: bool) -> None:
    """003 plan 5.2 «Соглашения заключены»: the first D4 concluded (here on paper, 003 it. 9 ¶2)."""
    set_today(api.ctx, concluded)
    _, application = await _registry_application(api, "kirovsky", "administration")
    token = await body_token(api, "kirovsky")
    payload = await api.example("cost_agreement", "kirovsky")
    payload["registry_application"] = {"number": application["number"]}
    payload["provider"].update(inn=application["provider"]["inn"], ogrn=application["provider"]["ogrn"])
    payload["paper"] = {**PAPER, "registered_on": concluded.isoformat(), "reason": "no_technical_possibility_navigator"}
    status, accepted = await api.submit(token, "cost_agreement", "kirovsky", payload)
    assert status == 202, accepted
    assert (await api.act(token, accepted["id"], "approve"))[0] == 200
    assert (await deadlines(api, "kirovsky"))["cost_agreements"]["status"] == ("overdue" if late else "open")
    status, view = await api.call("POST", f"/api/v1/agreements/{accepted['id']}/paper", token, json={})
    assert status == 200 and view["status"] == "concluded", view
    item = (await deadlines(api, "kirovsky"))["cost_agreements"]
    assert item["status"] == "met" and item["met_on"] == concluded.isoformat() and item["late"] is late


@pytest.mark.parametrize(
    ("issued", "late"),
    [(dt.date(2023, 8, 31), False), (dt.date(2023, 9, 1), True)],
    ids=["004 plan 5.3 до 1 сентября: issued Thursday 31 Aug on time", "004 plan 5.3: issued Friday 1 Sep late"],
)
async def test_omsk_certificates_met_by_the_first_certificate_issued(api: Api, issued: dt.date, late: bool) -> None:
    """004 plan 5.3 «Сертификаты сформированы»: the first D6 issued (approved) by the education department."""
    set_today(api.ctx, issued)
    operator = await api.token("omsk", "gateway_operator", "operator")
    application = await api.example("consumer_application", "omsk")
    status, accepted = await api.submit(operator, "consumer_application", "omsk", application)
    assert status == 202, accepted
    token = await body_token(api, "omsk")
    assert (await api.act(token, accepted["id"], "approve"))[0] == 200
    certificate = await api.example("social_certificate", "omsk")
    certificate.update(application={"number": application["number"]}, child=application["child"], holder=application["applicant"])
    status, accepted = await api.submit(token, "social_certificate", "omsk", certificate)
    assert status == 202, accepted
    assert (await deadlines(api, "omsk"))["certificates"]["status"] == ("overdue" if late else "open")
    assert (await api.act(token, accepted["id"], "approve"))[0] == 200
    item = (await deadlines(api, "omsk"))["certificates"]
    assert item["status"] == "met" and item["met_on"] == issued.isoformat() and item["late"] is late


# --------------------------------------------------------------------------- plan rows confirmed by the body
@pytest.mark.parametrize(
    ("municipality", "org", "start"),
    [("leninogorsk", "education_directorate", dt.date(2023, 11, 1)), ("kirovsky", "support_centre", dt.date(2023, 9, 1)),
     ("omsk", "education_department", dt.date(2023, 9, 1))],
    ids=["000 plan 5.4 С 1 ноября 2023 года", "003 plan 5.4 С 1 сентября 2023 года", "004 plan 5.4 С 1 сентября 2023 года"],
)  # fmt: skip
async def test_selection_starts_on_its_date_and_is_confirmed(api: Api, municipality: str, org: str, start: dt.date) -> None:
    set_today(api.ctx, dt.date(2026, 11, 23))
    item = (await deadlines(api, municipality))["provider_selection"]
    assert item["status"] == "open" and item["due"] is None and item["started_on"] == start.isoformat()  # never overdue
    token = await api.token(municipality, org, "authorized_body")
    comment = "Отбор проведён: заявки рассмотрены, реестр исполнителей дополнен"
    before = (start - dt.timedelta(days=1)).isoformat()
    status, problem = await confirm(api, token, "provider_selection", municipality=municipality, comment=comment, date=before)
    assert status == 422 and problem["code"] == "deadline_not_started" and problem["errors"][0]["pointer"] == "/date"
    status, item = await confirm(api, token, "provider_selection", municipality=municipality, comment=comment,
                                 date=start.isoformat())  # fmt: skip
    assert status == 200 and item["status"] == "met" and item["met_on"] == start.isoformat() and item["late"] is False
    assert item["confirmation"] == {"on": start.isoformat(), "by": f"authorized_body:{org}", "comment": comment}
    status, problem = await confirm(api, token, "provider_selection", municipality=municipality, comment=comment)
    assert status == 409 and problem["code"] == "deadline_already_met"
    assert [(e, d["kind"], d["comment"]) for e, d in await journal_events(api, municipality)] == [
        ("deadline_confirmed", "provider_selection", comment)]


async def test_two_confirmations_at_once_record_one(api: Api) -> None:
    """003 plan 5.4: one record per row, even when two requests race (the second is 409, one journal entry)."""
    token = await body_token(api, "kirovsky")
    answers = await asyncio.gather(*(confirm(api, token, "provider_selection", municipality="kirovsky",
                                             comment=f"Отбор проведён ({i})") for i in range(2)))  # fmt: skip
    assert sorted(status for status, _ in answers) == [200, 409]
    assert [p["code"] for status, p in answers if status == 409] == ["deadline_already_met"]
    assert len(await journal_events(api, "kirovsky")) == 1


async def test_only_the_row_s_responsible_body_confirms(api: Api) -> None:
    """004 plan 5.4: «Департамент образования Администрации города Омска» alone."""
    youth = await api.token("omsk", "youth_sports_department", "authorized_body")
    status, problem = await confirm(api, youth, "provider_selection", municipality="omsk", comment="Отбор проведён")
    assert status == 403 and problem["code"] == "action_forbidden"


@pytest.mark.parametrize(
    ("kind", "body", "status", "code"),
    [
        ("provider_registry", {"municipality": "omsk", "comment": "x"}, 409, "deadline_tracked_by_gateway"),
        ("indicator_values", {"municipality": "omsk", "comment": "x"}, 409, "deadline_tracked_by_gateway"),
        ("plan_9_9", {"municipality": "omsk", "comment": "x"}, 404, "deadline_unknown"),
        ("provider_selection", {"municipality": "omsk"}, 422, "missing"),
        ("provider_selection", {"municipality": "omsk", "comment": ""}, 422, "comment_invalid"),
        ("provider_selection", {"municipality": "omsk", "comment": "x" * 1001}, 422, "comment_invalid"),
        ("provider_selection", {"municipality": "omsk", "comment": "x", "date": "2030-01-01"}, 422, "effective_date_in_future"),
        ("provider_selection", {"municipality": "omsk", "comment": "x", "date": "вчера"}, 422, "date_type"),
        ("provider_selection", {"municipality": "omsk", "comment": "x", "order_year": 2023}, 422, "extra_forbidden"),
        ("provider_selection", {"municipality": "omsk", "comment": "x", "by": "me"}, 422, "extra_forbidden"),
        ("provider_selection", {"municipality": 7, "comment": "x"}, 422, "string_type"),
        ("provider_selection", {"municipality": "luga", "comment": "x"}, 403, "municipality_forbidden"),
        ("provider_selection", {"municipality": "nowhere", "comment": "x"}, 404, "unknown_municipality"),
    ],
)
async def test_confirmation_refuses_bad_input(api: Api, kind: str, body: dict[str, Any], status: int, code: str) -> None:
    token = await body_token(api, "omsk")
    got, problem = await confirm(api, token, kind, **body)
    assert got == status and code in error_codes(problem), problem
    assert problem["type"].endswith(problem["code"])


async def test_confirmation_needs_the_authorized_body_and_json(api: Api) -> None:
    operator = await api.token("omsk", "gateway_operator", "operator")
    status, problem = await confirm(api, operator, "provider_selection", municipality="omsk", comment="x")
    assert status == 403 and problem["code"] == "action_forbidden"
    token = await body_token(api, "omsk")
    status, problem = await api.call("POST", "/api/v1/deadlines/provider_selection/confirm", token, data=b"{",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 400 and problem["code"] == "malformed_json"
    assert (await api.call("POST", "/api/v1/deadlines/provider_selection/confirm", None, json={}))[0] == 401


# --------------------------------------------------------------------------- the profile's data is checked at load
@pytest.mark.parametrize(
    ("municipality", "change", "message"),
    [
        ("livny", ("placement: {by: step, step: post_on_website,", "placement: {by: step, step: post_on_websit,"),
         "names no social_order step"),
        ("luga", ("  - kind: cost_agreements\n", "  - kind: provider_registry\n"), "is not unique"),
        ("omsk", ("    orgs: [education_department]\n", "    orgs: [nobody]\n"), "unknown organisation"),
        ("luga", ("    indicator_year: 2023\n", ""), "indicator_year goes with an indicator table"),
        ("luga", ("wording: do, text: \"До 15 августа", "wording: until, text: \"До 15 августа"), "wording"),
    ],
)
def test_a_broken_deadline_section_stops_loading(tmp_path: Path, municipality: str, change: tuple[str, str], message: str) -> None:
    import shutil

    from gateway.municipalities import ProfileError

    directory = tmp_path / "municipalities"
    shutil.copytree(Settings().municipalities_dir, directory)
    path = directory / f"{municipality}.yaml"
    text = path.read_text(encoding="utf-8")
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ProfileError, match=message):
        load_profiles(directory)
