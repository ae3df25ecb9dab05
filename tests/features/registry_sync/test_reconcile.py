"""The register reconciliation rules as properties: a second reconciliation finds nothing to correct.

Random registers — the gateway's entries (issued here or in the Navigator), the Navigator's
records (equal, different, deleted, missing) — are reconciled once; then the decision is
applied (the gateway stores its entry, the Navigator takes the correction with the
semantics of its corrections endpoint) and reconciled again.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.features.registry_sync.reconcile import ISSUE_FIELDS, Entry, Held, corrected_navigator, decide

NUMBERS = [f"57{i:08d}" for i in range(1, 9)]

entries = st.builds(
    Entry,
    number=st.just("5700000001"),
    municipality=st.just("luga"),
    status=st.sampled_from(["active", "suspended", "closed"]),
    nominal=st.sampled_from(["10000.00", "15000.00"]),
    balance=st.sampled_from(["0.00", "5000.00", "15000.00"]),
    valid_from=st.sampled_from(["2026-09-01", "2026-11-23"]),
    valid_to=st.just("2027-08-31"),
    deleted=st.booleans(),
    last_name=st.sampled_from(["Иванов", "Петров"]),
    first_name=st.just("Иван"),
    middle_name=st.sampled_from([None, "Иванович"]),
    birth_date=st.sampled_from(["2015-03-01", "2016-05-05"]),
)
helds = st.none() | st.builds(Held, entries, st.sampled_from(["navigator", "gateway"]))
registers = st.lists(st.tuples(helds, st.none() | entries), min_size=1, max_size=len(NUMBERS))


def reconcile_once(held: Held | None, navigator: Entry | None) -> tuple[Held | None, Entry | None, bool]:
    """Apply one decision: (the gateway's entry, the Navigator's record, whether EAIS DO was told)."""
    d = decide(held, navigator)
    after = held
    if d.entry is not None:
        after = Held(d.entry, held.origin if held is not None else "navigator")
    nav = corrected_navigator(navigator, d.entry) if d.push_navigator and d.entry is not None else navigator
    return after, nav, d.eais_changed(held.entry if held is not None else None)


@settings(max_examples=400, deadline=None)
@given(registers)
def test_a_second_reconciliation_finds_nothing_to_correct(register: list[tuple[Held | None, Entry | None]]) -> None:
    for number, (held, navigator) in zip(NUMBERS, register, strict=False):
        held = Held(replace(held.entry, number=number), held.origin) if held is not None else None
        navigator = replace(navigator, number=number) if navigator is not None else None
        after, nav, _ = reconcile_once(held, navigator)
        again = decide(after, nav)
        assert again.outcome in ("unchanged", "ignored"), (held, navigator, again)
        assert not again.push_navigator and not again.eais_changed(after.entry if after else None)


@settings(max_examples=300, deadline=None)
@given(helds, st.none() | entries)
def test_the_issuer_keeps_its_data_and_the_navigator_its_usage(held: Held | None, navigator: Entry | None) -> None:
    d = decide(held, navigator)
    if held is None or d.entry is None:
        return
    if held.origin == "gateway":
        # A gateway-issued certificate never takes issue data or a deletion from the Navigator.
        assert all(getattr(d.entry, f) == getattr(held.entry, f) for f in ISSUE_FIELDS)
        assert d.entry.deleted == held.entry.deleted
        if navigator is not None and not navigator.deleted and not held.entry.deleted:
            assert (d.entry.status, d.entry.balance) == (navigator.status, navigator.balance)
    elif navigator is not None:
        assert d.entry == navigator  # issued in the Navigator: everything comes from there
    if d.outcome == "conflicting":
        assert d.push_navigator and held.origin == "gateway" and d.reason


def test_outcomes_of_the_documented_rules() -> None:
    base = Entry("5700000001", "luga", "active", "15000.00", "15000.00", "2026-09-01", "2027-08-31", False,
                 "Иванов", "Иван", None, "2015-03-01")  # fmt: skip
    nav = Held(base, "navigator")
    gw = Held(base, "gateway")
    assert decide(None, base).outcome == "added"
    assert decide(None, replace(base, deleted=True)).outcome == "ignored"
    assert decide(nav, base).outcome == "unchanged"
    assert decide(nav, replace(base, balance="0.00")).outcome == "changed"
    assert decide(nav, replace(base, deleted=True)).outcome == "removed"
    assert decide(nav, None).outcome == "removed"
    assert decide(gw, replace(base, balance="0.00")).outcome == "changed"
    d = decide(gw, replace(base, nominal="20000.00", balance="0.00"))
    assert (d.outcome, d.reason, d.push_navigator) == ("conflicting", "issue_data_differs", True)
    assert d.entry is not None and (d.entry.nominal, d.entry.balance) == ("15000.00", "0.00")
    assert decide(gw, None).reason == "absent_in_navigator"
    assert decide(gw, replace(base, deleted=True)).reason == "deleted_in_navigator"
    assert decide(Held(replace(base, deleted=True), "gateway"), base).reason == "revoked_in_gateway"
    # EAIS DO holds no balance and no names: a balance change is not sent there.
    assert not decide(nav, replace(base, balance="0.00")).eais_changed(base)
    assert decide(nav, replace(base, status="closed")).eais_changed(base)
