"""Job 2 end to end: the recipients' register synced between the gateway, the Navigator and EAIS DO.

Against the emulators over loopback: the full reconciliation report on a crafted dataset
(added, changed, removed, conflicting) and its resolution, a second run that finds nothing
to correct, incremental runs that read only what changed, the Navigator dropping
connections mid-sync (the run resumes from its cursor: nothing lost, nothing doubled),
the API and the CLI with their progress, and no child's data in the logs.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from adapters.eais.mapping import object_uuid
from adapters.navigator import NavigatorAdapter
from adapters.navigator.client import Page, Registry
from emulators.navigator.registries import FIRST, LAST
from gateway.features.registry_sync.api import run_resource
from gateway.features.registry_sync.sync import RegisterSync
from gateway.store.tables import certificate_register as reg
from queues import leases
from tests.support.navigator_stack import NavStack, database, nav_stack_factory  # noqa: F401 - fixtures

M = "luga"
Factory = Callable[..., Awaitable[NavStack]]


def navigator_records(stack: NavStack, municipality: str | None = M) -> dict[str, dict[str, Any]]:
    """The Navigator's truth: every record's latest version (read straight from the emulator's state)."""
    out: dict[str, dict[str, Any]] = {}
    after = 0
    registry = stack.navigator.certificates
    while True:
        items, after, more = registry.page(after, 1000)
        for r in items:
            if municipality is None or r["municipality"] == municipality:
                out[r["number"]] = r
        if not more:
            return out


def live(records: dict[str, dict[str, Any]]) -> set[str]:
    return {n for n, r in records.items() if not r["deleted"]}


async def gateway_rows(stack: NavStack, municipality: str | None = M) -> dict[str, Any]:
    query = sa.select(reg)
    if municipality is not None:
        query = query.where(reg.c.municipality == municipality)
    async with stack.ctx.db.read() as conn:
        return {r["number"]: r for r in (await conn.execute(query)).mappings()}


def eais_certificates(stack: NavStack) -> dict[str, dict[str, Any]]:
    return {o["localId"]: o for o in stack.eais.store["certificates"].values()}


async def issue_certificate(stack: NavStack) -> dict[str, Any]:
    """A D6 issued through the gateway (approved by the authorized body), not yet sent anywhere."""
    api = stack.api
    body = await api.token(M, "administration", "authorized_body")
    payload = await api.example("social_certificate", M)
    status, accepted = await api.submit(body, "social_certificate", M, payload)
    assert status == 202, accepted
    assert (await api.act(body, accepted["id"], "approve"))[0] == 200
    return payload


async def test_full_reconciliation_reports_and_resolves_a_crafted_dataset(
    nav_stack_factory: Factory, database: str  # noqa: F811
) -> None:
    stack = await nav_stack_factory(database, certificates=60)
    state = stack.navigator
    sync = RegisterSync(stack.ctx)
    try:
        first = await sync.run([M])
        truth = navigator_records(stack)
        assert first.status == "completed" and first.counts["added"] == len(live(truth)) > 5
        assert first.counts["out_of_scope"] == 60 - len(truth)
        rows = await gateway_rows(stack)
        assert set(rows) == live(truth) and all(r["origin"] == "navigator" for r in rows.values())
        assert set(eais_certificates(stack)) == live(truth)

        d6_differs, d6_missing = await issue_certificate(stack), await issue_certificate(stack)
        # The Navigator holds the first gateway-issued certificate with another nominal.
        child = d6_differs["child"]
        state.upsert_certificate(
            d6_differs["number"], "cert-x1",
            {"nominal": "99999.00", "validFrom": d6_differs["period"]["valid_from"],
             "validTo": d6_differs["period"]["valid_to"], "municipality": M, "deleted": False,
             "recipient": {"lastName": child["last_name"], "firstName": child["first_name"],
                           "middleName": child["middle_name"], "birthDate": child["birth_date"]}},
            created={"status": "active", "balance": "99999.00"},
        )  # fmt: skip
        changed, deleted, missing = sorted(live(truth))[:3]
        index = {n: int(n[2:]) - 1 for n in (changed, deleted)}
        state.certificates.put({**truth[changed], "balance": "0.00", "status": "closed"}, index[changed])
        state.certificates.put({**truth[deleted], "deleted": True}, index[deleted])
        async with stack.ctx.db.write() as conn:
            await conn.execute(reg.delete().where(reg.c.municipality == M, reg.c.number == missing))
            ghost = {**dict(rows[changed]), "number": "5799999999", "navigator_id": "cert-gone"}
            await conn.execute(reg.insert().values(**ghost))

        second = await sync.run([M], full=True)
        c = second.counts
        assert second.status == "completed", second.error
        assert (c["added"], c["changed"], c["removed"], c["conflicting"]) == (1, 1, 2, 2)
        assert c["navigator_corrected"] == 2 and c["navigator_failed"] == 0
        report = await run_resource(stack.ctx, second.run_id, M)
        assert report is not None and report["percent"] == 100.0
        items = {o: {i["number"]: i for i in report["report"][o]["items"]} for o in ("added", "changed", "removed", "conflicting")}
        assert set(items["added"]) == {missing}
        assert set(items["changed"]) == {changed} and set(items["changed"][changed]["fields"]) == {"status", "balance"}
        assert set(items["removed"]) == {deleted, "5799999999"}
        assert items["removed"]["5799999999"]["reason"] == "absent_in_navigator"
        assert items["removed"][deleted]["reason"] == "deleted_in_navigator"
        conflicts = items["conflicting"]
        assert set(conflicts) == {d6_differs["number"], d6_missing["number"]}
        assert conflicts[d6_differs["number"]]["reason"] == "issue_data_differs"
        assert conflicts[d6_differs["number"]]["fields"] == ["nominal", "balance"]
        assert conflicts[d6_missing["number"]]["reason"] == "absent_in_navigator"
        assert all(i["resolution"] == "navigator_corrected_from_gateway" for i in conflicts.values())

        # Resolved by the rules: the issuer's data in the Navigator, the Navigator's usage data here.
        after = navigator_records(stack)
        assert after[d6_differs["number"]]["nominal"] == "15000.00" and after[d6_differs["number"]]["balance"] == "99999.00"
        assert after[d6_missing["number"]]["nominal"] == "15000.00" and not after[d6_missing["number"]]["deleted"]
        rows = await gateway_rows(stack)
        assert rows[d6_differs["number"]]["nominal"] == "15000.00" and rows[d6_differs["number"]]["balance"] == "99999.00"
        assert rows[changed]["status"] == "closed" and rows[deleted]["deleted"] and rows["5799999999"]["deleted"]
        assert not any(r["eais_pending"] or r["navigator_pending"] for r in rows.values())
        eais = eais_certificates(stack)
        live_here = {n for n, r in rows.items() if not r["deleted"]}
        assert {n for n, o in eais.items() if not o["isDeleted"]} == live_here
        assert eais[deleted]["isDeleted"] and eais[changed]["status"] == "closed"
        assert "lastName" not in str(eais) and child["last_name"] not in str(eais)  # EAIS DO gets no names

        third = await sync.run([M], full=True)
        c = third.counts
        assert (c["added"], c["changed"], c["removed"], c["conflicting"]) == (0, 0, 0, 0)
        assert c["navigator_corrected"] == c["eais_pushed"] == 0 and c["unchanged"] == len(live_here) + 1
    finally:
        await sync.close()


async def test_incremental_sync_reads_only_what_changed(nav_stack_factory: Factory) -> None:  # noqa: F811
    stack = await nav_stack_factory(certificates=300)
    everyone = sorted(stack.ctx.profiles)
    sync = RegisterSync(stack.ctx)
    try:
        first = await sync.run(everyone)
        assert first.counts["added"] == 300 and first.processed == 300
        before = {r["id"]: r for r in navigator_records(stack, None).values()}
        changed = stack.navigator.certificates.mutate(5, delete=2)
        second = await sync.run(everyone)
        assert second.processed == 7 and second.counts["changed"] == 5 and second.counts["removed"] == 2
        # EAIS DO holds no balance: a record that was closed already changed nothing there.
        already_closed = sum(1 for i in changed[:5] if before[i]["status"] == "closed")
        assert second.counts["eais_pushed"] == 7 - already_closed
        rows = await gateway_rows(stack, None)
        assert sum(1 for r in rows.values() if r["deleted"]) == 2 and len(rows) == 300
        third = await sync.run(everyone)
        assert third.processed == 0 and third.counts["changed"] == 0
    finally:
        await sync.close()


class DroppingNavigator(NavigatorAdapter):
    """After ``after`` pages, switch on connection resets on the registry path (the fault injection)."""

    def __init__(self, stack: NavStack, after: int, faults: dict[str, Any]) -> None:
        super().__init__(stack.ctx.settings.systems.navigator)
        self.stack, self.after, self.faults, self.pages = stack, after, faults, 0

    async def registry_page(self, registry: Registry, cursor: str | None = None, limit: int | None = None) -> Page[Any]:
        self.pages += 1
        if self.pages == self.after:
            await self.stack.emulator("POST", "navigator", "/faults", json=self.faults)
        return await super().registry_page(registry, cursor, limit)


async def test_navigator_dropping_connections_mid_sync_loses_and_doubles_nothing(nav_stack_factory: Factory) -> None:  # noqa: F811
    stack = await nav_stack_factory(certificates=1000)
    everyone = sorted(stack.ctx.profiles)
    faults = {"reset": True, "count": 4, "paths": ["/api/v1/registries/certificates"]}
    sync = RegisterSync(stack.ctx, navigator=DroppingNavigator(stack, after=4, faults=faults))
    try:
        progress = await sync.run(everyone)
    finally:
        await sync.close()
    assert progress.status == "completed", progress.error
    assert progress.counts["retries"] >= 1
    assert (await stack.emulator("GET", "navigator", "/faults"))["count"] == 0  # every reset was served
    assert progress.counts["added"] == 1000 and progress.processed == 1000  # no page twice, none skipped
    rows = await gateway_rows(stack, None)
    assert set(rows) == set(navigator_records(stack, None)) and len(rows) == 1000
    assert len(eais_certificates(stack)) == 1000 and not any(r["eais_pending"] for r in rows.values())


async def test_a_run_that_gives_up_is_resumed_from_its_cursor(nav_stack_factory: Factory) -> None:  # noqa: F811
    stack = await nav_stack_factory(certificates=1000, max_attempts=2)
    everyone = sorted(stack.ctx.profiles)
    faults = {"reset": True, "count": 1000, "paths": ["/api/v1/registries/certificates"]}
    sync = RegisterSync(stack.ctx, navigator=DroppingNavigator(stack, after=6, faults=faults))
    try:
        failed = await sync.run(everyone)
    finally:
        await sync.close()
    assert failed.status == "failed" and failed.error
    assert failed.error.split(":")[0] in ("connection_error", "circuit_open")
    assert 0 < failed.processed < 1000 and failed.counts["added"] == failed.processed
    await stack.emulator("DELETE", "navigator", "/faults")
    stack.navigator.certificates.mutate(1)  # a change made meanwhile comes with the rest
    sync = RegisterSync(stack.ctx)
    try:
        resumed = await sync.run(everyone)
    finally:
        await sync.close()
    assert resumed.status == "completed"
    assert resumed.processed == 1000 - failed.processed + 1  # from the cursor on, plus the changed record
    assert failed.counts["added"] + resumed.counts["added"] == 1000
    rows = await gateway_rows(stack, None)
    assert set(rows) == set(navigator_records(stack, None))


async def test_api_starts_a_run_and_shows_its_progress(nav_stack_factory: Factory) -> None:  # noqa: F811
    stack = await nav_stack_factory(certificates=400)
    api = stack.api
    operator = await api.token(M, "support_centre", "operator")
    status, started = await api.call("POST", "/api/v1/registry/sync", operator, json={"full": True})
    assert status == 202, started
    run_id = started["run_id"]
    assert started["status"] == "running" and started["mode"] == "full" and started["municipalities"] == [M]
    seen: list[Any] = []

    async def done() -> bool:
        _, run = await api.call("GET", f"/api/v1/registry/sync/{run_id}", operator)
        seen.append(run["percent"])
        return bool(run["status"] != "running")

    await stack.wait(done, "the run to finish")
    _, run = await api.call("GET", f"/api/v1/registry/sync/{run_id}", operator)
    expected = len(live(navigator_records(stack)))
    assert run["status"] == "completed" and run["percent"] == 100.0 and run["processed"] == 400
    assert run["counts"]["added"] == expected == run["report"]["added"]["count"]
    assert len(run["report"]["added"]["items"]) == expected
    assert all(p is None or 0 <= p <= 100 for p in seen)

    body = await api.token(M, "administration", "authorized_body")
    assert (await api.call("GET", f"/api/v1/registry/sync/{run_id}", body))[0] == 200
    other = await api.token("omsk", "education_department", "authorized_body")
    assert (await api.call("GET", f"/api/v1/registry/sync/{run_id}", other))[0] == 404
    provider = await api.token(M, "Пример", "provider", "7707083893")
    assert (await api.call("POST", "/api/v1/registry/sync", provider))[0] == 403
    status, problem = await api.call("POST", "/api/v1/registry/sync", operator, json={"full": "yes"})
    assert status == 422 and problem["errors"][0]["pointer"] == "/full"

    # Another process is syncing Luga: refused, nothing started.
    assert await leases.acquire(stack.ctx.db.write_engine, f"registry-sync:{M}", "someone-else", 60)
    status, problem = await api.call("POST", "/api/v1/registry/sync", operator)
    assert status == 409 and problem["code"] == "sync_already_running"
    await leases.release(stack.ctx.db.write_engine, f"registry-sync:{M}", "someone-else")


async def test_cli_syncs_with_a_progress_bar(nav_stack_factory: Factory, tmp_path: Any) -> None:  # noqa: F811
    stack = await nav_stack_factory(certificates=500)
    env = {
        **os.environ, "GATEWAY_DATA_DIR": str(tmp_path / "cli"),
        "GATEWAY_SYSTEMS__NAVIGATOR__BASE_URL": stack.base("navigator"), "GATEWAY_SYSTEMS__EAIS__BASE_URL": stack.base("eais"),
        "GATEWAY_REGISTRY__PAGE_SIZE": "100",
    }  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "registry", "sync", "--municipality", M, "--full",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text, bar = out.decode(), err.decode()
    assert proc.returncode == 0, text + bar
    expected = len(live(navigator_records(stack)))
    assert "полная сверка" in text and f"добавлено: {expected};" in text
    assert "\r" not in text + bar and "Навигатор" not in bar  # not a terminal: no bar, only the final lines
    assert not any(name in text + bar for name in (*LAST, *FIRST))

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "registry", "sync", "--municipality", M, "--json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode() + err.decode()
    run = json.loads(out)
    assert run["status"] == "completed" and run["mode"] == "incremental" and run["municipalities"] == [M]
    assert set(run["counts"]) >= {"added", "changed", "removed"} and not err.strip()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_shows_count_rate_and_eta() -> None:
    from gateway.features.registry_sync.api import ProgressBar
    from gateway.features.registry_sync.sync import Progress

    screen = _Terminal()
    bar = ProgressBar(screen)
    p = Progress(run_id="r", municipalities=(M,), mode="full", total=1000)
    for done in (0, 250, 500):
        p.processed = done
        bar(p)
    p.processed, p.status = 1000, "completed"
    bar(p)
    drawn = screen.getvalue()
    assert "Навигатор" in drawn and "1000/1000" in drawn and "зап./с" in drawn and "осталось" in drawn
    assert bar._bar is None  # stopped at the end of the run

    plain = io.StringIO()
    ProgressBar(plain)(p)
    assert plain.getvalue() == ""


async def test_no_child_data_reaches_the_logs(nav_stack_factory: Factory, caplog: Any) -> None:  # noqa: F811
    stack = await nav_stack_factory(certificates=200)
    await issue_certificate(stack)
    caplog.set_level(logging.DEBUG)
    await stack.emulator("POST", "navigator", "/faults", json={"status": 503, "count": 2, "paths": ["/api/v1/registries"]})
    sync = RegisterSync(stack.ctx)
    try:
        progress = await sync.run([M], full=True)
    finally:
        await sync.close()
    assert progress.status == "completed" and progress.counts["retries"] == 1
    assert caplog.records  # something was logged
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(name in text for name in (*LAST, *FIRST, "Образцов"))


async def test_eais_down_leaves_rows_pending_for_the_next_run(nav_stack_factory: Factory) -> None:  # noqa: F811
    stack = await nav_stack_factory(certificates=100, max_attempts=2)
    await stack.emulator("POST", "eais", "/faults", json={"status": 503})
    sync = RegisterSync(stack.ctx)
    try:
        partial = await sync.run([M])
        expected = len(live(navigator_records(stack)))
        assert partial.status == "partial" and partial.counts["eais_failed"] >= expected
        assert all(r["eais_pending"] for r in (await gateway_rows(stack)).values())
        await stack.emulator("DELETE", "eais", "/faults")
        again = await sync.run([M])
    finally:
        await sync.close()
    assert again.status == "completed" and again.counts["eais_pushed"] == expected and again.processed == expected
    assert again.phase == "corrections"
    assert set(eais_certificates(stack)) == live(navigator_records(stack))
    uuid_of = object_uuid(stack.ctx.settings.systems.eais.datasource, "certificate", sorted(eais_certificates(stack))[0])
    async with aiohttp.ClientSession() as s, s.get(f"{stack.base('eais')}/api/v1/objects/certificates/{uuid_of}") as r:
        assert r.status == 200


@pytest.mark.parametrize("action", ["reject"])
async def test_a_certificate_revoked_in_the_gateway_is_deleted_in_the_navigator(
    nav_stack_factory: Factory, action: str  # noqa: F811
) -> None:
    stack = await nav_stack_factory(certificates=20)
    api = stack.api
    body = await api.token(M, "administration", "authorized_body")
    payload = await api.example("social_certificate", M)
    _, accepted = await api.submit(body, "social_certificate", M, payload)
    await api.act(body, accepted["id"], "approve")
    sync = RegisterSync(stack.ctx)
    try:
        first = await sync.run([M])
        assert first.counts["navigator_corrected"] == 0  # not pushed: the D6 itself goes to the Navigator by send
        assert (await api.act(body, accepted["id"], action, {"reason": "выдан ошибочно"}))[0] == 200
        rows = await gateway_rows(stack)
        assert rows[payload["number"]]["deleted"] and rows[payload["number"]]["navigator_pending"]
        second = await sync.run([M])
    finally:
        await sync.close()
    assert second.counts["navigator_corrected"] == 1 and second.counts["eais_pushed"] == 1
    assert payload["number"] not in navigator_records(stack)  # deleting what it never had changes nothing there
    assert eais_certificates(stack)[payload["number"]]["isDeleted"]
