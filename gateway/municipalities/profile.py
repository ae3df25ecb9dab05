"""The shape of a municipality profile file: everything municipality-specific, as data.

One YAML file per municipality in ``GATEWAY_MUNICIPALITIES_DIR`` (``_defaults.yaml`` is
merged under each); code never tests a municipality id.  Loading validates the file
completely, so a typo in a profile stops the gateway at start-up with the field path.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from gateway.core.working_days import FEDERAL, CalendarId
from gateway.documents.common import LegalForm
from gateway.documents.registry import DOCUMENT_TYPES
from gateway.documents.service_codes import is_canonical
from gateway.systems import DELIVERY_SYSTEMS


class Role(StrEnum):
    authorized_body = "authorized_body"
    finance_department = "finance_department"
    provider = "provider"
    operator = "operator"
    auditor = "auditor"


def _known_system(name: str) -> str:
    if name not in DELIVERY_SYSTEMS:
        raise ValueError(f"unknown system {name!r}; the gateway knows {', '.join(DELIVERY_SYSTEMS)}")
    return name


#: A system's name in profiles: one of the systems of :mod:`gateway.systems` that documents go to.
System = Annotated[str, AfterValidator(_known_system)]


ACTIONS = ("create", "approve", "reject", "sign", "send")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Decree(_Strict):
    title: str
    number: str | None
    date: dt.date | None
    status: Literal["adopted", "draft"]
    seed_file: str | None = None
    applies_from: dt.date | None = Field(
        default=None,
        description="First date a document may bear under this decree (its entry into force, or the "
        "earlier date it applies to); null: not known, nothing is refused",
    )
    applies_from_source: str | None = Field(
        default=None, description="The decree item that sets applies_from, quoted; shown to people when refusing"
    )

    @model_validator(mode="after")
    def _sourced(self) -> Decree:
        if self.applies_from is not None and not self.applies_from_source:
            raise ValueError("applies_from needs applies_from_source: the decree item it comes from")
        return self


class Organisation(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str
    roles: list[Role] = Field(min_length=1)
    acts_for: str | None = Field(default=None, description="Id of the organisation on whose behalf it acts")
    source: str | None = None


class SystemName(_Strict):
    name: str = Field(description="Correct legal name used in outgoing metadata")
    decree_text: str = Field(description="The name verbatim as the decree spells it")
    decree_typo: bool = False
    source: str | None = None


class Service(_Strict):
    code: str
    name: str
    group: str | None = None
    orientation: str | None = None
    form: str | None = None
    consumer_category: str | None = None
    source: str | None = None


class Programme(_Strict):
    id: str
    name: str
    service_code: str | None = Field(
        default=None, description="Mapping to a registry code; null until configured"
    )
    source: str | None = None


class PaperRule(_Strict):
    documents: list[str] = Field(min_length=1)
    years: list[int] = Field(min_length=1)
    condition: Literal["none", "no_technical_possibility_navigator"]
    source: str


class Permission(_Strict):
    roles: list[Role] = Field(min_length=1)
    orgs: list[str] | None = Field(
        default=None, description="Only these organisations of the roles; null = any"
    )


class ActionRule(_Strict):
    allowed: list[Permission] = Field(min_length=1)
    requires_steps: list[str] = Field(default_factory=list)
    source: str | None = None


class Step(_Strict):
    """A task with a working-day deadline (Livny it. 10), done through its own action."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    document_type: str
    title: str
    clock: Literal["formed", "approved"]
    working_days: int = Field(ge=1, le=60)
    source: str


DueWording = Literal["do", "ne_pozdnee", "bare", "s"]


class DueDate(_Strict):
    """A decree's date with its words: «до» ends the day before, «не позднее» and a bare date end on
    it, «с» is a start with no end.  ``text`` is the decree's words, verbatim."""

    date: dt.date
    wording: DueWording
    text: str


class AnnualDueDate(_Strict):
    """A date repeated every year: for the order of year N, ``day``.``month`` of year N."""

    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    wording: DueWording
    text: str


class Placement(_Strict):
    """What counts as placing the approved order: its publication on budget.gov.ru through
    Electronic Budget, or a step of the profile (Livny: the posting on the body's website)."""

    by: Literal["budget_portal", "step"]
    step: str | None = None
    source: str


class AnnualOrder(_Strict):
    """When the social order must be approved and placed (plan 4.1; Livny plan 3.1)."""

    first_order_year: int
    first_due: DueDate | None = None
    annual_due: AnnualDueDate | None = Field(default=None, description="Then every year; null: no annual rule")
    placement: Placement
    source: str


class DecreeDeadline(_Strict):
    """A dated duty of the decree that no single document carries: a plan row or the indicator values.

    ``met_by``: what the gateway sees done (the first D3 approved, D4 concluded, D6 issued, the
    indicator table of ``indicator_year`` approved) or ``confirmation`` by the authorized body
    (``orgs``: only these organisations; null = any of the role).
    """

    kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    title: str
    result: str | None = None
    due: DueDate
    met_by: Literal[
        "registry_formed", "agreement_concluded", "certificate_issued", "indicator_table_approved", "confirmation"
    ]
    indicator_year: int | None = None
    orgs: list[str] | None = None
    source: str


class ConsumerApplicationRules(_Strict):
    request_kinds: list[Literal["enrolment", "certificate"]] = Field(min_length=1)
    child_age_min: int = 5
    child_age_max: int = 17
    source: str | None = None


class ProfileWarning(_Strict):
    """A known defect or conflict in the decree, surfaced rather than silently resolved.

    With ``document_types`` set, the warning is also returned with every accepted
    document of those types (``on_paper``: only paper-origin ones).
    """

    code: str
    detail: str
    source: str | None = None
    document_types: list[str] = Field(default_factory=list)
    on_paper: bool = False


class AgreementSigning(_Strict):
    """How long the provider has to countersign an agreement (D4) sent for signing.

    No decree sets the period: the rules for concluding agreements electronically with
    УКЭП are left to future acts (000 plan 2.5, 002 plan 2.6, 003 plan 2.5).  The default
    in ``_defaults.yaml`` is the gateway's assumption until a municipality adopts its own.
    """

    window_working_days: int = Field(default=10, ge=1, le=60)
    source: str = "gateway default (no decree sets the period)"


class Publication(_Strict):
    """Publication on the unified budget portal (budget.gov.ru) after submission to Electronic Budget.

    The decrees defer the timeline to Minfin order 243н (000 it. 7, 001 it. 7, 003 it. 8,
    004 it. 8; Livny it. 10 "в сроки, установленные Министерством финансов") and give no
    number, so ``working_days`` is municipality data with a gateway default in ``_defaults.yaml``.
    """

    document_types: list[str] = Field(min_length=1)
    working_days: int = Field(ge=1, le=60)
    title: str
    source: str


class IndicatorText(_Strict):
    """One row of the decree's indicator table: its wording in this municipality's decree."""

    text: str
    unit: str | None = None
    absent: bool = Field(default=False, description="The decree's table has no such row")
    source: str | None = None


class Indicators(_Strict):
    """The KPI table (App. 3; Luga App. 5): row texts by id, and what counts as a public institution.

    ``public_institution_forms``: legal forms that rows 3.3 and 3.5 exclude — "государственными
    или муниципальными учреждениями" (000, 004) or only "муниципальными учреждениями" (001–003).
    """

    rows: dict[str, IndicatorText]
    public_institution_forms: list[LegalForm] = Field(min_length=1)
    source: str | None = None


class Profile(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str
    region: str
    decree: Decree
    organisations: list[Organisation] = Field(min_length=1)
    systems: dict[System, SystemName]
    document_names: dict[str, str]
    services: list[Service] = Field(default_factory=list)
    programmes: list[Programme] = Field(default_factory=list)
    excluded_special_names: list[str] = Field(default_factory=list)
    paper_rules: list[PaperRule] = Field(default_factory=list)
    routing: dict[str, list[System]]
    permissions: dict[str, dict[str, ActionRule]]
    steps: list[Step] = Field(default_factory=list)
    annual_order: AnnualOrder | None = None
    decree_deadlines: list[DecreeDeadline] = Field(default_factory=list)
    consumer_application: ConsumerApplicationRules
    signature_required: list[str] = Field(default_factory=list)
    personal_data_roles: list[Role] = Field(default_factory=list)
    warnings: list[ProfileWarning] = Field(default_factory=list)
    oktmo: Annotated[str, Field(pattern=r"^\d{8}$")] | None = Field(
        default=None,
        description="ОКТМО of the municipality (8 digits, OK 033-2013): how applications from EPGU name it; "
        "null means EPGU applications are never routed here",
    )
    agreement_signing: AgreementSigning = Field(default_factory=AgreementSigning)
    calendar: CalendarId = Field(
        default=FEDERAL,
        description="Working-day calendar of the municipality's region: `ru` (federal) or a regional "
        "calendar in GATEWAY_CALENDARS_DIR that adds the region's own days off",
    )
    publication: Publication | None = None
    indicators: Indicators | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        types = set(DOCUMENT_TYPES)
        org_ids = {o.id for o in self.organisations}
        problems: list[str] = []
        if set(self.systems) != set(DELIVERY_SYSTEMS):
            problems.append(f"systems must name all {len(DELIVERY_SYSTEMS)} systems, got {sorted(self.systems)}")
        for key in (*self.document_names, *self.routing, *self.permissions, *self.signature_required):
            if key not in types:
                problems.append(f"unknown document type {key!r}")
        for t in types:
            if t not in self.document_names:
                problems.append(f"document_names lacks {t!r}")
            if t not in self.permissions:
                problems.append(f"permissions lacks {t!r}")
            elif set(self.permissions[t]) - {*ACTIONS, *(s.id for s in self.steps)}:
                problems.append(f"permissions of {t!r} name unknown actions")
        for rule in self.paper_rules:
            problems += [f"paper rule names unknown type {d!r}" for d in rule.documents if d not in types]
        for o in self.organisations:
            if o.acts_for is not None and o.acts_for not in org_ids:
                problems.append(f"organisation {o.id!r} acts for unknown {o.acts_for!r}")
        perms = [p for rules in self.permissions.values() for r in rules.values() for p in r.allowed]
        for p in perms:
            problems += [
                f"permission names unknown organisation {g!r}" for g in p.orgs or () if g not in org_ids
            ]
        step_ids = {s.id for s in self.steps}
        for s in self.steps:
            if s.id not in self.permissions.get(s.document_type, {}):
                problems.append(f"step {s.id!r} has no permission entry under {s.document_type!r}")
        for rules in self.permissions.values():
            for r in rules.values():
                problems += [f"unknown step {s!r}" for s in r.requires_steps if s not in step_ids]
        for service in self.services:
            if not is_canonical(service.code):
                problems.append(f"service code {service.code!r} is not canonical (Cyrillic letters)")
        for programme in self.programmes:
            if programme.service_code is not None and not is_canonical(programme.service_code):
                problems.append(f"programme {programme.id!r} maps to a non-canonical code")
        if self.publication is not None:
            problems += [f"publication names unknown type {d!r}" for d in self.publication.document_types if d not in types]
        problems += self._deadline_problems(step_ids, org_ids)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _deadline_problems(self, step_ids: set[str], org_ids: set[str]) -> list[str]:
        problems: list[str] = []
        placement = self.annual_order.placement if self.annual_order is not None else None
        if placement is not None and placement.by == "step":
            step = self.step(placement.step or "")
            if step is None or step.document_type != "social_order":
                problems.append(f"annual_order.placement names no social_order step ({placement.step!r})")
        if placement is not None and placement.by == "budget_portal" and (
            self.publication is None or "social_order" not in self.publication.document_types
        ):
            problems.append("annual_order.placement on the budget portal needs a publication rule for social_order")
        kinds = [d.kind for d in self.decree_deadlines]
        for d in self.decree_deadlines:
            if kinds.count(d.kind) > 1 or d.kind in step_ids or d.kind == "annual_social_order":
                problems.append(f"decree deadline kind {d.kind!r} is not unique")
            if (d.met_by == "indicator_table_approved") != (d.indicator_year is not None) or (
                d.indicator_year is not None and self.indicators is None
            ):
                problems.append(f"decree deadline {d.kind!r}: indicator_year goes with an indicator table")
            problems += [f"decree deadline {d.kind!r} names unknown organisation {o!r}" for o in d.orgs or () if o not in org_ids]
        return problems

    # --- lookups used by the rules -------------------------------------------------
    def organisation(self, org_id: str) -> Organisation | None:
        return next((o for o in self.organisations if o.id == org_id), None)

    def service(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def programme(self, programme_id: str) -> Programme | None:
        return next((p for p in self.programmes if p.id == programme_id), None)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def decree_deadline(self, kind: str) -> DecreeDeadline | None:
        return next((d for d in self.decree_deadlines if d.kind == kind), None)
