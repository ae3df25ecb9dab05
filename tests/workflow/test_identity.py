"""Identities bound to their organisations: who a token may name, what a provider may do, refusals journaled.

Runs on SQLite and on PostgreSQL (the ``ctx`` fixture is parametrised).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.context import Context
from gateway.municipalities import Role
from gateway.store.tables import journal, tokens
from gateway.workflow import tokens as token_service
from gateway.workflow.problems import Problem
from tests.app.test_journal_and_cli import run_cli
from tests.support.gateway import DEFAULT_NOW, Api, set_today

M = "luga"
MINE, OTHER = "7707083893", "5024002119"


async def refusals(ctx: Context) -> list[dict[str, Any]]:
    async with ctx.db.read() as conn:
        rows = await conn.execute(sa.select(journal).where(journal.c.event == "access_refused").order_by(journal.c.seq))
        return [dict(r._mapping) for r in rows]


# --------------------------------------------------------------------------- a provider acts as itself only
@pytest.mark.parametrize("doc_type", ["provider_registry_application", "service_contract"])
async def test_a_provider_cannot_submit_in_another_providers_name(api: Api, doc_type: str) -> None:
    token = await api.token(M, "Пример", "provider", MINE)
    payload = await api.example(doc_type, M)
    payload["provider"]["inn"] = OTHER  # a real, checksum-valid INN of someone else
    status, problem = await api.submit(token, doc_type, M, payload)
    assert status == 403 and problem["code"] == "provider_identity_mismatch", problem
    assert problem["errors"][0]["pointer"] == "/payload/provider/inn"
    assert OTHER not in str(problem)
    async with api.ctx.db.read() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM documents"))).scalar_one() == 0
    (refused,) = await refusals(api.ctx)
    assert refused["actor"] == f"provider:{MINE}" and refused["details"]["code"] == "provider_identity_mismatch"
    assert refused["municipality"] == M and refused["details"]["where"] == "POST /api/v1/documents"
    # In its own name the same document is accepted.
    status, _ = await api.submit(token, doc_type, M, api.own(token, doc_type, payload))
    assert status == 202


async def test_the_ogrn_of_a_provider_token_must_match_too(api: Api) -> None:
    token = await token_service.issue(api.ctx, M, "Пример", Role.provider, inn=MINE, ogrn="1027700132195")
    payload = await api.example("provider_registry_application", M)
    payload["provider"].update(inn=MINE, ogrn="1037739010891")
    status, problem = await api.submit(token, "provider_registry_application", M, payload)
    assert status == 403 and problem["errors"][0]["pointer"] == "/payload/provider/ogrn"
    payload["provider"]["ogrn"] = "1027700132195"
    assert (await api.submit(token, "provider_registry_application", M, payload))[0] == 202


async def test_providers_with_the_same_name_do_not_see_or_act_on_each_others_documents(api: Api) -> None:
    mine = await api.token(M, "ООО «Пример»", "provider", MINE)
    other = await api.token(M, "ООО «Пример»", "provider", OTHER)
    payload = api.own(mine, "service_contract", await api.example("service_contract", M))
    status, accepted = await api.submit(mine, "service_contract", M, payload)
    assert status == 202, accepted
    assert (await api.call("GET", f"/api/v1/documents/{accepted['id']}", other))[0] == 404
    assert (await api.call("GET", "/api/v1/documents", other))[1]["total"] == 0
    assert (await api.call("GET", "/api/v1/documents", mine))[1]["total"] == 1
    for action in ("approve", "reject", "send"):
        assert (await api.act(other, accepted["id"], action))[0] == 404
    _, doc = await api.call("GET", f"/api/v1/documents/{accepted['id']}", mine)
    assert doc["status"] == "submitted"
    assert (await api.act(mine, accepted["id"], "approve"))[0] == 200


async def test_a_body_acting_beyond_the_decree_is_refused_and_journaled(api: Api) -> None:
    """Luga: only the administration and the ЦБУК approve the social order; the committee of education does not."""
    committee = await api.token(M, "education_committee", "authorized_body")
    admin = await api.token(M, "administration", "authorized_body")
    _, accepted = await api.submit(admin, "social_order", M, await api.example("social_order", M))
    status, problem = await api.act(committee, accepted["id"], "approve")
    assert status == 403 and problem["code"] == "action_forbidden"
    (refused,) = await refusals(api.ctx)
    assert refused["actor"] == "authorized_body:education_committee"
    assert refused["details"]["where"] == f"POST /api/v1/documents/{accepted['id']}/approve"
    # A bulk item refused the same way is journaled too.
    status, body = await api.call(
        "POST", "/api/v1/documents/actions", committee, json={"items": [{"id": accepted["id"], "action": "approve"}]}
    )
    assert status == 200 and body["results"][0]["status"] == 403
    assert [r["details"]["where"] for r in await refusals(api.ctx)][-1] == "bulk item 0"


async def test_another_municipality_is_refused_and_journaled(api: Api) -> None:
    token = await api.token("omsk", "education_department", "authorized_body")
    status, problem = await api.submit(token, "social_order", M, await api.example("social_order", M))
    assert status == 403 and problem["code"] == "municipality_forbidden"
    assert [r["actor"] for r in await refusals(api.ctx)] == ["authorized_body:education_department"]


# --------------------------------------------------------------------------- what a token may name
@pytest.mark.parametrize(
    ("org", "role", "inn", "code"),
    [
        ("nosuchorg", Role.authorized_body, None, "organisation_unknown"),
        ("finance_committee", Role.authorized_body, None, "role_not_held"),  # the finance body is not the authorized body
        ("administration", Role.operator, None, "role_not_held"),
        ("administration", Role.authorized_body, MINE, "inn_not_for_role"),
        ("Пример", Role.provider, None, "provider_inn_required"),
        ("Пример", Role.provider, "7701234567", "inn_invalid"),
        ("   ", Role.provider, MINE, "provider_name_invalid"),
    ],
)
async def test_tokens_are_issued_only_for_what_the_profile_holds(
    ctx: Context, org: str, role: Role, inn: str | None, code: str
) -> None:
    with pytest.raises(Problem) as refused:
        await token_service.issue(ctx, M, org, role, inn=inn)
    assert refused.value.code == code and refused.value.status == 422
    async with ctx.db.read() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(tokens))).scalar_one() == 0


async def test_a_body_may_be_named_by_its_exact_name_and_is_stored_by_id(ctx: Context) -> None:
    await token_service.issue(ctx, M, "комитет финансов Лужского муниципального района", Role.finance_department)
    (info,) = await token_service.list_tokens(ctx, M)
    assert info.org == "finance_committee" and info.role == "finance_department"


async def test_ogrn_must_be_valid_and_of_the_same_kind_of_person(ctx: Context) -> None:
    with pytest.raises(Problem) as bad:
        await token_service.issue(ctx, M, "Пример", Role.provider, inn=MINE, ogrn="1027700132190")
    assert bad.value.code == "ogrn_invalid"
    with pytest.raises(Problem) as mixed:
        await token_service.issue(ctx, M, "ИП Пример", Role.provider, inn="570000000129", ogrn="1027700132195")
    assert mixed.value.code == "ogrn_inn_mismatch"


async def test_a_token_whose_organisation_left_the_profile_stops_working(api: Api) -> None:
    """A token issued before the checks (or before a profile change) is refused at once."""
    token = await api.token(M, "administration", "authorized_body")
    token_id = token.split("_")[1]
    async with api.ctx.db.write() as conn:
        await conn.execute(tokens.update().where(tokens.c.id == token_id).values(org="nosuchorg"))
    status, problem = await api.call("GET", "/api/v1/documents", token)
    assert status == 401 and problem["code"] == "token_holder_unknown"


# --------------------------------------------------------------------------- lifetime, listing, the header
async def test_tokens_expire(api: Api) -> None:
    token = await token_service.issue(
        api.ctx, M, "administration", Role.authorized_body, expires_at=DEFAULT_NOW + dt.timedelta(days=2)
    )
    assert (await api.call("GET", "/api/v1/documents", token))[0] == 200
    set_today(api.ctx, (DEFAULT_NOW + dt.timedelta(days=3)).date())
    status, problem = await api.call("GET", "/api/v1/documents", token)
    assert status == 401 and problem["code"] == "token_expired"
    with pytest.raises(Problem) as past:
        await token_service.issue(api.ctx, M, "administration", Role.authorized_body, expires_at=DEFAULT_NOW)
    assert past.value.code == "expiry_not_in_future"


async def test_the_default_lifetime_comes_from_settings(ctx: Context) -> None:
    await token_service.issue(ctx, M, "administration", Role.authorized_body)
    (info,) = await token_service.list_tokens(ctx)
    lifetime = ctx.settings.tokens.lifetime_days
    assert info.expires_at.startswith((DEFAULT_NOW + dt.timedelta(days=lifetime)).date().isoformat())


async def test_listing_shows_last_use_and_hides_revoked_tokens(api: Api) -> None:
    token = await api.token(M, "administration", "authorized_body")
    (before,) = await token_service.list_tokens(api.ctx, M)
    assert before.last_used_at is None
    assert (await api.call("GET", "/api/v1/documents", token))[0] == 200
    (after,) = await token_service.list_tokens(api.ctx, M)
    assert after.last_used_at is not None and after.last_used_at.startswith("2026-11-23")
    assert await token_service.revoke(api.ctx, after.id)
    assert await token_service.list_tokens(api.ctx, M) == []
    assert [t.id for t in await token_service.list_tokens(api.ctx, M, include_revoked=True)] == [after.id]
    assert (await api.call("GET", "/api/v1/documents", token))[0] == 401


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
async def test_the_bearer_scheme_is_case_insensitive(api: Api, scheme: str) -> None:
    token = await api.token(M, "administration", "authorized_body")
    resp = await api.client.get("/api/v1/documents", headers={"Authorization": f"{scheme} {token}"})
    assert resp.status == 200


async def test_undecodable_authorization_bytes_are_a_400(api: Api) -> None:
    resp = await api.client.get("/api/v1/documents", headers={"Authorization": "Bearer gw_\udcff\udcfe"})
    assert resp.status in (400, 401)
    body = await resp.json(content_type=None)
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert body["code"] in ("header_invalid", "unauthorized")


def test_bearer_token_parsing() -> None:
    assert token_service.bearer_token("bearer  gw_ab_cd ") == "gw_ab_cd"
    for bad in (None, "", "Basic abc", "Bearer", "Bearer a b"):
        with pytest.raises(Problem) as refused:
            token_service.bearer_token(bad)
        assert refused.value.status == 401
    with pytest.raises(Problem) as undecodable:
        token_service.bearer_token("Bearer gw_\udcff")
    assert undecodable.value.status == 400 and undecodable.value.code == "header_invalid"


# --------------------------------------------------------------------------- the CLI
def test_cli_refuses_what_the_profile_lacks_and_lists_tokens(tmp_path: Path) -> None:
    env = {"GATEWAY_DATA_DIR": str(tmp_path / "var")}
    bad = run_cli("tokens", "issue", "--municipality", "livny", "--org", "nosuchorg", "--role", "authorized_body", env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "нет такой организации" in bad.stderr and "organisation_unknown" in bad.stderr
    nonsense = run_cli("tokens", "issue", "--municipality", "livny", "--org", "administration",
                       "--role", "authorized_body", "--expires", "²", env=env)  # fmt: skip
    assert nonsense.returncode == 2 and "expiry_invalid" in nonsense.stderr and "Traceback" not in nonsense.stderr
    finance = run_cli("tokens", "issue", "--municipality", "livny", "--org", "finance_department",
                      "--role", "authorized_body", env=env)  # fmt: skip
    assert finance.returncode == 2 and "role_not_held" in finance.stderr
    ok = run_cli("tokens", "issue", "--municipality", "livny", "--org", "Пример", "--role", "provider",
                 "--inn", MINE, "--expires", "30", env=env)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    dated = run_cli("tokens", "issue", "--municipality", "livny", "--org", "administration", "--role", "authorized_body",
                    "--expires", "2099-12-31", env=env)  # fmt: skip
    assert dated.returncode == 0, dated.stderr
    listing = run_cli("tokens", "list", env=env)
    assert listing.returncode == 0, listing.stderr
    assert MINE in listing.stdout and "administration" in listing.stdout and "2099-12-31" in listing.stdout
    assert "Всего: 2" in listing.stdout and "gw_" not in listing.stdout
