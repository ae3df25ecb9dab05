"""The shape of a compliance matrix file: each item of a decree and of its plan, and what enforces it.

One file per municipality (``gateway/data/compliance/<id>.yaml``) lists every numbered item
and sub-item of the decree, every row of its plan and the rows of the appendices the gateway
models.  An entry quotes the decree (shortened with «…»), names what enforces it (typed
references to ids of the code or of the profile) and the tests that prove it, or says why
the gateway does not enforce it.  ``_gateway.yaml`` lists the rule codes that enforce no
decree item (the gateway's own checks), with why they exist.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: What a reference names.  ``rule``: a stable code of a rule check (gateway/workflow/rules);
#: the others are ids of the municipality's profile: ``permission`` ``<document type>.<action>``,
#: ``routing`` a document type, ``warning`` a warning code, ``deadline`` a step id or a
#: deadline section (``annual_order``, ``publication``, ``agreement_signing``), ``system`` a
#: system of ``systems``, ``indicator`` a row of ``indicators.rows``.
Kind = Literal["rule", "permission", "routing", "warning", "deadline", "system", "indicator"]
KINDS: tuple[Kind, ...] = ("rule", "permission", "routing", "warning", "deadline", "system", "indicator")

#: A pytest node id: a test file under tests/, a test function (in a class or not), a parameter id.
TEST_NODE = r"^tests/[\w/]+\.py::(\w+::)?test\w*(\[[^\]]+\])?$"
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reference(_Strict):
    kind: Kind
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.]+$")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


class Entry(_Strict):
    """One item of the decree or of its plan.

    ``enforced_by`` with no ``not_enforced``: enforced; both: partly (the reason says what is
    not); ``not_enforced`` alone: not enforced.  An entry with references names its tests.
    """

    item: Annotated[str, Field(min_length=1, max_length=60, description="As the decree numbers it: it. 7(2), plan 4.1, app. 3, 1.1")]
    text: Text = Field(description="The decree's words, verbatim, shortened with «…»")
    enforced_by: list[Reference] = Field(default_factory=list)
    not_enforced: Text | None = Field(default=None, description="Why the gateway does not enforce it (or what part)")
    note: Text | None = Field(default=None, description="How the gateway reads the item")
    tests: list[Annotated[str, Field(pattern=TEST_NODE)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> Entry:
        if not self.enforced_by and self.not_enforced is None:
            raise ValueError("укажите, что обеспечивает пункт (enforced_by), или почему шлюз его не обеспечивает (not_enforced)")
        if self.enforced_by and not self.tests:
            raise ValueError("у обеспеченного пункта должны быть тесты, которые это доказывают (tests)")
        if len(set(self.enforced_by)) != len(self.enforced_by):
            raise ValueError("ссылка указана дважды")
        return self

    @property
    def status(self) -> Literal["enforced", "partial", "not_enforced"]:
        if not self.enforced_by:
            return "not_enforced"
        return "partial" if self.not_enforced is not None else "enforced"


class Matrix(_Strict):
    municipality: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    seed_file: str | None = Field(default=None, description="The decree's text file, as the profile's decree.seed_file")
    items: list[Entry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Matrix:
        items = [e.item for e in self.items]
        twice = sorted({i for i in items if items.count(i) > 1})
        if twice:
            raise ValueError(f"пункты указаны дважды: {', '.join(twice)}")
        return self


class GatewayCheck(_Strict):
    """A rule code that enforces no decree item: why the gateway checks it anyway."""

    rule: Code
    reason: Text
    tests: list[Annotated[str, Field(pattern=TEST_NODE)]] = Field(default_factory=list)


class GatewayChecks(_Strict):
    checks: list[GatewayCheck]

    @model_validator(mode="after")
    def _unique(self) -> GatewayChecks:
        codes = [c.rule for c in self.checks]
        if len(set(codes)) != len(codes):
            raise ValueError("правило указано дважды")
        return self
