"""No document dated before its decree applies (``decree.applies_from``, docs/decrees.md §3.9).

Luga 001 it. 12: in force on signing, 13.02.2023. Kirovsky 003 it. 13: in force on promulgation
and applied to relations from 31.01.2023, before the decree's own date (10.03.2023).
Leninogorsk 000 and Livny 002 have no entry-into-force item (000 it. 10, 002 it. 11 order
publication only): the gateway applies them from their date of adoption. Omsk 004 is an undated
draft: nothing is refused.  An electronic document dated earlier is refused; a paper-origin one
is registered with a notice.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from gateway.core.settings import Settings
from gateway.municipalities import ProfileError, load_profiles
from tests.support.decrees import AUTHORITY, SEEDS
from tests.support.gateway import Api, error_codes, set_today

PROFILES = load_profiles(Settings().municipalities_dir)
AUTH = AUTHORITY

# municipality, first date a document may bear, the item the refusal cites
IN_FORCE = [
    pytest.param("luga", dt.date(2023, 2, 13), "п. 12", id="001 it. 12 from signing"),
    pytest.param("kirovsky", dt.date(2023, 1, 31), "п. 13", id="003 it. 13 relations from 31.01.2023"),
    pytest.param("leninogorsk", dt.date(2023, 10, 23), "п. 10", id="000 no item, it. 10 publication only"),
    pytest.param("livny", dt.date(2023, 7, 20), "п. 11", id="002 no item, it. 11 publication only"),
]


def paper(day: dt.date, reason: str | None = None) -> dict[str, str]:
    out = {"registration_number": "5-П", "registered_on": day.isoformat(), "scan_sha256": "cd" * 32}
    if reason:
        out["reason"] = reason
    return out


async def submit_order(api: Api, municipality: str, day: dt.date, **changes: object) -> tuple[int, dict]:
    set_today(api.ctx, day)
    token = await api.token(municipality, AUTH[municipality], "authorized_body")
    payload = await api.example("social_order", municipality)
    payload.update(changes)
    return await api.submit(token, "social_order", municipality, payload)


@pytest.mark.parametrize(("municipality", "first_day", "item"), IN_FORCE)
async def test_an_electronic_document_dated_before_the_decree_is_refused(
    api: Api, municipality: str, first_day: dt.date, item: str
) -> None:
    status, body = await submit_order(api, municipality, first_day - dt.timedelta(days=1))
    assert status == 422 and "document_before_decree" in error_codes(body), body
    error = next(e for e in body["errors"] if e["code"] == "document_before_decree")
    assert error["pointer"] == "/payload/date"
    assert item in error["detail"] and first_day.strftime("%d.%m.%Y") in error["detail"]
    status, body = await submit_order(api, municipality, first_day)
    assert status == 202, body
    assert "paper_document_before_decree" not in {w["code"] for w in body["warnings"]}


async def test_kirovsky_applies_to_relations_before_its_own_date(api: Api) -> None:
    """003 it. 13: «распространяется на правоотношения, возникшие с 31 января 2023 года» — before 10.03.2023."""
    assert PROFILES["kirovsky"].decree.date == dt.date(2023, 3, 10)
    status, body = await submit_order(api, "kirovsky", dt.date(2023, 2, 20))
    assert status == 202, body


async def test_a_paper_document_dated_before_the_decree_is_registered_with_a_notice(api: Api) -> None:
    """001 it. 12 with it. 8 (D1 on paper in 2023): a paper order of 01.02.2023 records what happened before the decree."""
    day = dt.date(2023, 2, 1)
    status, body = await submit_order(api, "luga", day, paper=paper(day))
    assert status == 202, body
    notice = next(w for w in body["warnings"] if w["code"] == "paper_document_before_decree")
    assert notice["pointer"] == "/payload/date" and "п. 12" in notice["detail"] and "13.02.2023" in notice["detail"]


async def test_a_paper_document_the_decree_does_not_allow_is_still_refused(api: Api) -> None:
    """Before the decree and on paper, a document type the decree keeps electronic stays refused (001 it. 8, 9)."""
    day = dt.date(2023, 2, 1)
    set_today(api.ctx, day)
    token = await api.token("luga", "administration", "authorized_body")
    payload = await api.example("social_certificate", "luga")
    payload["paper"] = paper(day)
    status, body = await api.submit(token, "social_certificate", "luga", payload)
    assert status == 422 and "paper_not_allowed" in error_codes(body)


async def test_an_undated_draft_refuses_no_date(api: Api) -> None:
    """004 is a draft («от ________ 2023 года»), with no entry-into-force item: applies_from stays null."""
    assert PROFILES["omsk"].decree.applies_from is None
    status, body = await submit_order(api, "omsk", dt.date(2023, 1, 9))
    assert status == 202, body


def test_applies_from_needs_the_item_it_comes_from(tmp_path: Path) -> None:
    directory = tmp_path / "municipalities"
    shutil.copytree(Settings().municipalities_dir, directory)
    path = directory / "luga.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.lstrip().startswith("applies_from_source:")), encoding="utf-8")
    with pytest.raises(ProfileError, match="applies_from_source"):
        load_profiles(directory)


# --------------------------------------------------------------------------- against the decree texts
def _decree(seed_file: str | None) -> str:
    if seed_file is None or not (SEEDS / seed_file).is_file():
        pytest.skip(f"текст постановления {seed_file} не найден в {SEEDS.resolve()} (../shared/seeds)")
    return " ".join((SEEDS / seed_file).read_text(encoding="utf-8").split())


@pytest.mark.parametrize("municipality", sorted(PROFILES))
def test_applies_from_follows_the_decrees_final_items(municipality: str) -> None:
    """Where a decree says when it takes effect, the quoted wording is its own; where it says nothing,
    the date of adoption (000, 002) or nothing at all (004, a draft)."""
    decree = PROFILES[municipality].decree
    text = _decree(decree.seed_file)
    quoted = (decree.applies_from_source or "").partition("«")[2].rpartition("»")[0]
    if "вступает в силу" in text:
        assert quoted and quoted in text, municipality
        assert decree.applies_from is not None
    else:
        assert not quoted
        assert decree.applies_from == decree.date, municipality  # None for the undated Omsk draft
