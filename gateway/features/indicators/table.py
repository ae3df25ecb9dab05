"""The KPI rows of the decrees' indicator table computable from the exchanged documents (docs/decrees.md §6).

Computed for one municipality and one year from what the gateway holds:

- D3 (registry applications) dated in the year: who took part in the selection (2.2) and
  who was included in the registry (2.3: an application approved, i.e. in a live status);
- D4 (cost agreements) in force (live status) with a period overlapping the year: the
  providers delivering the service (3.2, with D7), the NKOs among them (1.3);
- D7 (contracts) in force with a period overlapping the year: the children served (3.4),
  those served by providers that are not public institutions (3.5).

A provider's legal form comes from its latest D3 (D4 and D7 name the provider only by INN);
which forms count as "государственные или муниципальные учреждения" is the profile's
``indicators.public_institution_forms`` (000 and 004 exclude both, 001–003 only municipal
ones).  Children are counted distinct by SNILS, or by name and birth date when there is
none; the keys are hashed in memory and never leave this function.  Documents are read as
a stream, so memory grows with the number of distinct providers and children only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.context import Context
from gateway.documents.common import LegalForm
from gateway.documents.status import LIVE_STATUSES
from gateway.municipalities import Profile
from gateway.store.tables import documents

ROW_IDS = ("1.1", "1.2", "1.3", "1.4", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "3.4", "3.5",
           "4.1", "4.2", "4.3", "4.4", "4.5", "5.1", "5.2", "5.3")  # fmt: skip

PUBLIC_NAMES = {
    LegalForm.state_institution: ("государственные", "государственными"),
    LegalForm.municipal_institution: ("муниципальные", "муниципальными"),
}
NOT_COMPUTABLE = {
    "1.1": "Меры поддержки НКО (обучение, налоговые льготы) в документах обмена не отражаются",
    "1.4": "Меры поддержки НКО (обучение, налоговые льготы) в документах обмена не отражаются",
    "2.1": "Отметка о доработке муниципальных актов вносится вручную",
    "2.4": "«Высокий уровень потенциала для конкуренции» определяется по методике пофакторного анализа Минфина России",
    "3.1": "Отметка об информационной кампании вносится вручную",
    "4.1": "Стандарты (порядки) оказания услуг в документах обмена не отражаются",
    "4.2": "Отметка о системе мониторинга качества вносится вручную",
    "4.3": "Наличие структурного подразделения и чек-листа в документах обмена не отражается",
    "4.4": "Нужны данные мониторинга качества, которых нет в документах обмена",
    "4.5": "Нужны данные мониторинга качества, которых нет в документах обмена",
    "5.1": "Механизмы обратной связи в документах обмена не отражаются",
    "5.2": "Нужны данные мониторинга удовлетворённости, которых нет в документах обмена",
}


@dataclass
class Facts:
    """What the documents of the year say, reduced to sets of keys (INNs, hashed child keys)."""

    applicants: set[str] = field(default_factory=set)
    included: set[str] = field(default_factory=set)
    agreement_providers: set[str] = field(default_factory=set)
    contract_providers: set[str] = field(default_factory=set)
    children: set[str] = field(default_factory=set)
    children_by_provider: dict[str, set[str]] = field(default_factory=dict)
    legal_forms: dict[str, tuple[dt.date, LegalForm]] = field(default_factory=dict)


def _overlaps(period: Mapping[str, Any] | None, year: int) -> bool:
    if not period:
        return False
    try:
        start = dt.date.fromisoformat(str(period["valid_from"]))
        end = dt.date.fromisoformat(str(period["valid_to"]))
    except (KeyError, ValueError):
        return False
    return start <= dt.date(year, 12, 31) and end >= dt.date(year, 1, 1)


def child_key(child: Mapping[str, Any]) -> str:
    """A stable pseudonymous key of a child: SNILS, else name and birth date; hashed."""
    snils = "".join(ch for ch in str(child.get("snils") or "") if ch.isdigit())
    if snils:
        basis = "snils:" + snils
    else:
        parts = (child.get("last_name"), child.get("first_name"), child.get("middle_name"), child.get("birth_date"))
        basis = "name:" + "|".join(str(p or "").casefold().replace("ё", "е").strip() for p in parts)
    return hashlib.sha256(basis.encode()).hexdigest()


async def _stream(conn: AsyncConnection, municipality: str, doc_type: str) -> AsyncIterator[Mapping[str, Any]]:
    query = (
        sa.select(documents.c.status, documents.c.doc_date, documents.c.provider_inn, documents.c.payload)
        .where(documents.c.municipality == municipality, documents.c.type == doc_type)
        .execution_options(yield_per=500)
    )
    result = await conn.stream(query)
    async for row in result.mappings():
        yield cast("Mapping[str, Any]", row)


async def gather(ctx: Context, municipality: str, year: int) -> Facts:
    facts = Facts()
    async with ctx.db.read() as conn:
        async for row in _stream(conn, municipality, "provider_registry_application"):
            provider = row["payload"].get("provider") or {}
            inn = str(provider.get("inn") or "")
            if not inn:
                continue
            try:
                form = LegalForm(provider.get("legal_form") or "")
            except ValueError:
                form = None
            known = facts.legal_forms.get(inn)
            if form is not None and (known is None or row["doc_date"] >= known[0]):
                facts.legal_forms[inn] = (row["doc_date"], form)
            if row["doc_date"].year == year:
                facts.applicants.add(inn)
                if row["status"] in LIVE_STATUSES:
                    facts.included.add(inn)
        async for row in _stream(conn, municipality, "cost_agreement"):
            inn = row["provider_inn"]
            if inn and row["status"] in LIVE_STATUSES and _overlaps(row["payload"].get("period"), year):
                facts.agreement_providers.add(inn)
        async for row in _stream(conn, municipality, "service_contract"):
            inn = row["provider_inn"]
            if not inn or row["status"] not in LIVE_STATUSES or not _overlaps(row["payload"].get("period"), year):
                continue
            key = child_key(row["payload"].get("child") or {})
            facts.contract_providers.add(inn)
            facts.children.add(key)
            facts.children_by_provider.setdefault(inn, set()).add(key)
    return facts


def compute(profile: Profile, year: int, facts: Facts) -> list[dict[str, Any]]:
    """Every row of the municipality's table: value and method where computable, the reason where not."""
    rules = profile.indicators
    assert rules is not None
    public = set(rules.public_institution_forms)

    def form(inn: str) -> LegalForm | None:
        known = facts.legal_forms.get(inn)
        return known[1] if known else None

    providers = facts.agreement_providers | facts.contract_providers
    unknown = sorted(inn for inn in providers if form(inn) is None)
    non_public = {inn for inn in providers if (f := form(inn)) is not None and f not in public}
    nko_agreements = {inn for inn in facts.agreement_providers if form(inn) is LegalForm.nko}
    nko_any = {inn for inn in providers if form(inn) is LegalForm.nko}
    served_by_non_public: set[str] = set()
    for inn in non_public:
        served_by_non_public |= facts.children_by_provider.get(inn, set())
    named = [PUBLIC_NAMES[f] for f in rules.public_institution_forms if f in PUBLIC_NAMES]
    public_text = " или ".join(n[0] for n in named)
    public_instrumental = " или ".join(n[1] for n in named)
    unknown_note = (
        f"; у {len(unknown)} исполнителей организационно-правовая форма неизвестна (нет их заявки D3) — не учтены"
        if unknown
        else ""
    )
    year_docs = f"действующие в {year} году (период пересекает год, документ утверждён)"
    computed: dict[str, tuple[str, int | None, str, dict[str, Any]]] = {
        "1.2": ("partial", len(nko_any),
                f"Частично: НКО среди исполнителей данной услуги — с соглашениями D4 или договорами D7, {year_docs}; "
                "НКО в других отраслях социальной сферы документы шлюза не охватывают", {}),
        "1.3": ("yes", len(nko_agreements),
                f"Исполнители с формой «некоммерческая организация» (по заявке D3) с соглашением D4, {year_docs}", {}),
        "2.2": ("yes", len(facts.applicants),
                f"Различные заявители (по ИНН), подавшие заявки D3 с датой в {year} году, в любом статусе", {}),
        "2.3": ("yes", len(facts.included),
                f"Из них заявители, чья заявка D3 {year} года одобрена (включение в реестр исполнителей)", {}),
        "3.2": ("yes", len(providers),
                f"Различные исполнители (по ИНН) с соглашениями D4 или договорами D7, {year_docs}", {}),
        "3.3": ("yes", len(non_public),
                f"Из них исполнители, форма которых (по заявке D3) не «{public_text} учреждения»{unknown_note}",
                {"unknown_legal_form": len(unknown)}),
        "3.4": ("yes", len(facts.children),
                f"Различные дети (по СНИЛС, иначе по ФИО и дате рождения) с договорами D7, {year_docs}", {}),
        "3.5": ("yes", len(served_by_non_public),
                f"Из них дети с договорами D7 у исполнителей, не являющихся {public_instrumental} "
                f"учреждениями (те же, что в показателе 3.3){unknown_note}", {"unknown_legal_form": len(unknown)}),
        "5.3": ("partial", None,
                "Частично: знаменатель — число потребителей услуг (как в показателе 3.4); числитель требует "
                "мониторинга удовлетворённости, которого нет в документах обмена", {"denominator": len(facts.children)}),
    }  # fmt: skip
    rows = []
    for row_id in ROW_IDS:
        text = rules.rows.get(row_id)
        if text is None or text.absent:
            continue
        if row_id in computed:
            computable, value, method, extra = computed[row_id]
        else:
            computable, value, method, extra = "no", None, NOT_COMPUTABLE[row_id], {}
        rows.append(
            {"id": row_id, "text": text.text, "unit": text.unit, "computable": computable, "value": value,
             "method": method, **extra}
        )  # fmt: skip
    return rows


async def indicators(ctx: Context, profile: Profile, year: int) -> dict[str, Any]:
    facts = await gather(ctx, profile.id, year)
    rules = profile.indicators
    return {
        "municipality": profile.id,
        "year": year,
        "source": rules.source if rules else None,
        "computed_on": ctx.clock.today().isoformat(),
        "items": compute(profile, year, facts) if rules else [],
    }
