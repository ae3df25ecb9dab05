"""Reconciling one certificate of the recipients' register: the rules, as a pure function.

The register (реестр получателей социальных сертификатов, plan 5.3) lives in three places:
the gateway, the regional Navigator and EAIS DO.  For one certificate number, the
gateway's entry (with where it came from) and the Navigator's record (or its absence from
a full listing) go in; the decision comes out: what the gateway stores, whether the
Navigator must be corrected, and how the difference is reported.

Rules (also in :mod:`gateway.features.registry_sync.api` and the README):

1. **Issue data belongs to the issuer.**  Nominal, validity and the child are set when the
   certificate is issued.  A certificate issued through the gateway (a D6 approved here,
   ``origin = gateway``) keeps the gateway's issue data: a Navigator record that differs,
   is deleted or is missing is *conflicting* and is corrected in the Navigator.  A
   certificate issued in the Navigator (``origin = navigator``) takes everything from it.
2. **Usage data belongs to the Navigator.**  Status (active, suspended, closed) and balance
   change where families enrol and providers are paid: the Navigator's values always win.
3. **Deletion.**  A Navigator tombstone, or absence from its full listing, removes a
   Navigator-issued certificate from the gateway (*removed*).  A certificate revoked in the
   gateway (its D6 rejected) is deleted in the Navigator too (*conflicting* until it is).
4. **EAIS DO never decides.**  It receives the result (without names: the birth year only);
   every change of what it holds is pushed, last writer wins on ``lastmodifiedTs``.
5. Everything else is *unchanged*; a tombstone of a certificate the gateway never had is
   *ignored*.

Applying a decision and deciding again on the result gives ``unchanged`` with nothing to
push (a property test checks it), so a second reconciliation finds nothing to correct.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal

Outcome = Literal["added", "changed", "removed", "conflicting", "unchanged", "ignored"]
Origin = Literal["navigator", "gateway"]

ISSUE_FIELDS = ("nominal", "valid_from", "valid_to", "last_name", "first_name", "middle_name", "birth_date")
USAGE_FIELDS = ("status", "balance")


@dataclass(slots=True)  # not frozen: a million of them are built per sync, and frozen __init__ is slow
class Entry:
    """One certificate as a system holds it (amounts with two decimals, ISO dates); names are personal data."""

    number: str
    municipality: str
    status: str
    nominal: str
    balance: str
    valid_from: str
    valid_to: str
    deleted: bool
    last_name: str = field(repr=False, default="")
    first_name: str = field(repr=False, default="")
    middle_name: str | None = field(repr=False, default=None)
    birth_date: str = field(repr=False, default="")

    @property
    def birth_year(self) -> int | None:
        return int(self.birth_date[:4]) if self.birth_date[:4].isdigit() else None

    def eais_view(self) -> tuple[object, ...]:
        """What EAIS DO holds of the certificate: no names, the birth year only."""
        if self.deleted:
            return (True,)
        return (False, self.status, self.nominal, self.valid_from, self.valid_to, self.municipality, self.birth_year)


COMPARED = tuple(f.name for f in fields(Entry) if f.name not in ("number", "municipality"))


@dataclass(frozen=True, slots=True)
class Held:
    """The gateway's entry and where the certificate was issued."""

    entry: Entry
    origin: Origin


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    entry: Entry | None  # what the gateway holds afterwards (None: nothing to store)
    push_navigator: bool = False  # the Navigator must take the gateway's entry
    fields: tuple[str, ...] = ()  # names of the fields that differed, never their values
    reason: str | None = None  # for conflicts

    def eais_changed(self, before: Entry | None) -> bool:
        """Whether EAIS DO must hear of this decision."""
        if self.entry is None or self.outcome in ("unchanged", "ignored"):
            return False
        if before is None:
            return not self.entry.deleted
        return self.entry.eais_view() != before.eais_view()


def differing(a: Entry, b: Entry) -> tuple[str, ...]:
    return tuple(name for name in COMPARED if getattr(a, name) != getattr(b, name))


def decide(held: Held | None, navigator: Entry | None) -> Decision:
    """The decision for one certificate; ``navigator=None`` means absent from the Navigator's full listing."""
    if held is None:
        if navigator is None:
            return Decision("unchanged", None)
        if navigator.deleted:
            return Decision("ignored", None)
        return Decision("added", navigator)
    gw = held.entry
    if navigator is None:
        if gw.deleted:
            return Decision("unchanged", gw)
        if held.origin == "navigator":
            return Decision("removed", replace(gw, deleted=True), fields=("deleted",), reason="absent_in_navigator")
        return Decision("conflicting", gw, push_navigator=True, fields=("deleted",), reason="absent_in_navigator")
    diff = differing(gw, navigator)
    if not diff:
        return Decision("unchanged", gw)
    if held.origin == "navigator":
        if navigator.deleted and not gw.deleted:
            return Decision("removed", navigator, fields=diff, reason="deleted_in_navigator")
        return Decision("changed", navigator, fields=diff)
    # Issued through the gateway: the issuer's data wins, the Navigator's usage data is taken.
    if gw.deleted:
        if navigator.deleted:
            return Decision("unchanged", gw)
        return Decision("conflicting", gw, push_navigator=True, fields=diff, reason="revoked_in_gateway")
    if navigator.deleted:
        return Decision("conflicting", gw, push_navigator=True, fields=diff, reason="deleted_in_navigator")
    merged = replace(gw, status=navigator.status, balance=navigator.balance)
    issue = tuple(name for name in diff if name in ISSUE_FIELDS)
    if issue:
        return Decision("conflicting", merged, push_navigator=True, fields=diff, reason="issue_data_differs")
    return Decision("changed", merged, fields=diff)


def corrected_navigator(navigator: Entry | None, gateway: Entry) -> Entry | None:
    """The Navigator's record after it took a correction (its semantics, for tests and reasoning).

    A missing or deleted record is (re)created from the gateway's entry; a deletion deletes;
    otherwise the issue data is replaced and the usage data stays.
    """
    if gateway.deleted:
        return None if navigator is None else replace(navigator, deleted=True)
    if navigator is None or navigator.deleted:
        return gateway
    return replace(navigator, **{name: getattr(gateway, name) for name in ISSUE_FIELDS}, municipality=gateway.municipality)
