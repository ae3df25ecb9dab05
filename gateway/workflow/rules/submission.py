"""Rules applied when a document is submitted (POST /api/v1/documents): pure functions.

Each rule cites the decree clause it comes from (docs/decrees.md §9 scenario numbers in
brackets).  Inputs are the validated model, the municipality profile, today's date and
the documents its links resolve to; the output is violations (the request is refused,
nothing is stored) and notices (returned with the 202 answer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from gateway.documents.common import DocumentBase, PaperReason, ServiceRef
from gateway.documents.consumer import ConsumerApplication, ServiceContract, SocialCertificate
from gateway.documents.order import OrderExecutionReport, SocialOrder
from gateway.documents.provider import CostAgreement, ProviderRegistryApplication
from gateway.documents.service_codes import ServiceCodeError, normalise
from gateway.documents.status import LIVE_STATUSES
from gateway.documents.text import CODE as CHARACTER_NOT_ALLOWED
from gateway.documents.text import unsafe_text
from gateway.documents.walk import escape, iter_parts
from gateway.municipalities.profile import Profile
from gateway.workflow.rules.programme_scope import direction_violation, scope_violations
from gateway.workflow.rules.provider_types import excluded_category
from gateway.workflow.rules.violations import Notice, Violation

# Which link field of which type points to which document type (D1 → D2, D3 → D4, D5 → D6 → D7).
LINKS: dict[str, dict[str, str]] = {
    "order_execution_report": {"social_order": "social_order"},
    "cost_agreement": {"registry_application": "provider_registry_application"},
    "social_certificate": {"application": "consumer_application"},
    "service_contract": {"certificate": "social_certificate", "application": "consumer_application"},
}


@dataclass(frozen=True)
class LinkedDocument:
    id: str
    type: str
    number: str
    status: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class LinkResolution:
    by_id: bool
    found: LinkedDocument | None


@dataclass
class CheckResult:
    violations: list[Violation] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def refuse(self, code: str, pointer: str, detail: str) -> None:
        self.violations.append(Violation(code, pointer, detail))

    def notice(self, code: str, pointer: str, detail: str) -> None:
        self.notices.append(Notice(code, pointer, detail))


# ---------------------------------------------------------------- before model validation
def normalise_service_codes(payload: Any, pointer: str = "") -> tuple[Any, CheckResult]:
    """Check the raw payload's text and bring every ``service_code`` to canonical Cyrillic form [8].

    Runs before model validation, on every path a document comes in by (JSON, XML, the
    pollers): text its XML form cannot carry is refused here, so a stored document can
    always be rendered, signed and sent; the stored document only ever holds canonical
    codes, and an unreadable code is refused, never stored as a new code.
    """
    result = CheckResult()
    for where, detail in unsafe_text(payload, pointer):
        result.refuse(CHARACTER_NOT_ALLOWED, where, detail)
        if len(result.violations) == 20:  # enough to fix the payload by
            break
    if result.violations:
        return payload, result

    def walk(node: Any, here: str) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                child = f"{here}/{escape(str(key))}"
                if key == "service_code" and isinstance(value, str):
                    try:
                        norm = normalise(value)
                    except ServiceCodeError as exc:
                        result.refuse(exc.code, child, exc.detail)
                        out[key] = value
                        continue
                    if norm.changed:
                        result.notice(
                            "service_code_normalised", child,
                            f"Код услуги приведён к кириллическому написанию: {norm.value}",
                        )  # fmt: skip
                    out[key] = norm.value
                else:
                    out[key] = walk(value, child)
            return out
        if isinstance(node, list):
            return [walk(item, f"{here}/{i}") for i, item in enumerate(node)]
        return node

    return walk(payload, pointer), result


# ---------------------------------------------------------------- after model validation
def check_submission(
    doc_type: str,
    doc: DocumentBase,
    profile: Profile,
    today: dt.date,
    links: Mapping[str, LinkResolution],
) -> CheckResult:
    result = CheckResult()
    if doc.date > today:
        result.refuse("date_in_future", "/date", "Дата документа не может быть позже сегодняшней")
    _check_decree_in_force(doc, profile, result)
    _check_paper(doc_type, doc, profile, result)
    _check_services(doc, profile, result)
    _check_programme_scope(doc, result)
    _check_links(doc_type, doc, links, result)
    specific = _SPECIFIC.get(type(doc))
    if specific is not None:
        specific(doc, profile, today, links, result)
    for warning in profile.warnings:
        if doc_type in warning.document_types and (not warning.on_paper or getattr(doc, "paper", None) is not None):
            result.notice(warning.code, "", warning.detail)
    return result


def _check_decree_in_force(doc: DocumentBase, profile: Profile, result: CheckResult) -> None:
    """No electronic document dated before the decree applies (``decree.applies_from``).

    A paper-origin one records what already happened on paper, so it is registered with a notice.
    """
    decree = profile.decree
    if decree.applies_from is None or doc.date >= decree.applies_from:
        return
    detail = (
        f"Документ датирован {doc.date:%d.%m.%Y}, раньше, чем применяется постановление муниципалитета "
        f"(с {decree.applies_from:%d.%m.%Y}; {decree.applies_from_source})"
    )
    if getattr(doc, "paper", None) is None:
        result.refuse("document_before_decree", "/date", detail)
    else:
        result.notice("paper_document_before_decree", "/date", f"{detail}; бумажный документ зарегистрирован")


def _check_paper(doc_type: str, doc: DocumentBase, profile: Profile, result: CheckResult) -> None:
    """Paper-origin documents only where a decree allows them, and only in 2023 [3, 4, 5]."""
    paper = getattr(doc, "paper", None)
    if paper is None:
        return
    rules = [r for r in profile.paper_rules if doc_type in r.documents and doc.date.year in r.years]
    if not rules:
        years = sorted({y for r in profile.paper_rules if doc_type in r.documents for y in r.years})
        if years:
            detail = (
                f"Документ этого вида оформляется на бумаге только в {', '.join(map(str, years))} г.; "
                f"документ от {doc.date.isoformat()} должен быть электронным"
            )
        else:
            detail = "Постановление муниципалитета не допускает этот документ на бумажном носителе"
        result.refuse("paper_not_allowed", "/paper", detail)
        return
    if all(r.condition == "no_technical_possibility_navigator" for r in rules):
        if paper.reason != PaperReason.no_technical_possibility_navigator:
            result.refuse(
                "paper_reason_required",
                "/paper/reason",
                "Соглашение оформляется на бумаге только при отсутствии технической возможности "
                "формирования его в ИС «Навигатор»: укажите reason = no_technical_possibility_navigator",
            )


def _check_services(doc: DocumentBase, profile: Profile, result: CheckResult) -> None:
    """Only the services (and programmes) approved in the municipality's decree [8, 15]."""
    for pointer, ref in iter_parts(doc, ServiceRef):
        if ref.service_code is not None and profile.service(ref.service_code) is None:
            result.refuse(
                "service_code_not_approved",
                f"{pointer}/service_code",
                f"Услуга {ref.service_code} не входит в перечень услуг, утверждённый постановлением муниципалитета",
            )
        if ref.programme_id is not None:
            programme = profile.programme(ref.programme_id)
            if programme is None:
                result.refuse(
                    "programme_not_listed",
                    f"{pointer}/programme_id",
                    f"Программа {ref.programme_id} не входит в перечень, утверждённый постановлением муниципалитета",
                )
            elif (
                ref.service_code is not None
                and programme.service_code is not None
                and programme.service_code != ref.service_code
            ):
                result.refuse(
                    "programme_code_mismatch",
                    f"{pointer}/service_code",
                    f"Программе {ref.programme_id} в настройках соответствует код {programme.service_code}",
                )


def _check_programme_scope(doc: DocumentBase, result: CheckResult) -> None:
    """No pre-professional arts programme in any document of the exchange (it. 1 of every decree)."""
    result.violations.extend(scope_violations(doc))


def _check_links(
    doc_type: str, doc: DocumentBase, links: Mapping[str, LinkResolution], result: CheckResult
) -> None:
    for name, target_type in LINKS.get(doc_type, {}).items():
        link = getattr(doc, name)
        res = links.get(name)
        if res is None or res.found is None:
            if res is not None and res.by_id:
                result.refuse("link_not_found", f"/{name}/id", "Связанный документ с таким id не найден")
            else:
                result.notice(
                    "link_unresolved", f"/{name}",
                    "Связанный документ не найден в шлюзе по номеру; связь будет проверена при его поступлении",
                )  # fmt: skip
            continue
        found = res.found
        if found.type != target_type:
            result.refuse("link_type_mismatch", f"/{name}/id", "Ссылка указывает на документ другого вида")
        elif found.number != link.number:
            result.refuse(
                "link_number_mismatch", f"/{name}/number", "Номер не совпадает с номером связанного документа"
            )


def _social_order(doc: Any, profile: Profile, today: dt.date, links: Any, result: CheckResult) -> None:
    assert isinstance(doc, SocialOrder)
    for i, year in enumerate(doc.planning_years):
        if year <= doc.year:
            result.refuse(
                "planning_year_order",
                f"/planning_years/{i}",
                "Год планового периода должен быть позже года заказа",
            )
    allowed = {doc.year, *doc.planning_years}
    for i, service in enumerate(doc.services):
        for j, volume in enumerate(service.volumes):
            if volume.year not in allowed:
                result.refuse(
                    "volume_year_outside_order",
                    f"/services/{i}/volumes/{j}/year",
                    "Объём указан на год вне очередного года и планового периода заказа",
                )
    scope = direction_violation(doc.direction)
    if scope is not None:
        result.violations.append(scope)
    seen: dict[tuple[str | None, str | None], int] = {}
    for i, service in enumerate(doc.services):
        key = (service.service_code, service.programme_id)
        if key in seen:
            result.refuse("service_duplicate", f"/services/{i}", f"Услуга повторяет строку {seen[key]}")
        seen.setdefault(key, i)


def _execution_report(
    doc: Any, profile: Profile, today: dt.date, links: Mapping[str, LinkResolution], result: CheckResult
) -> None:
    assert isinstance(doc, OrderExecutionReport)
    res = links.get("social_order")
    if res is None or res.found is None or res.found.type != "social_order":
        return
    order = res.found
    if order.status not in LIVE_STATUSES:
        result.refuse(
            "linked_order_not_approved",
            "/social_order",
            "Отчёт составляется по утверждённому социальному заказу",
        )
    if int(order.payload.get("year", doc.year)) != doc.year:
        result.refuse("report_year_mismatch", "/year", "Отчётный год не совпадает с годом социального заказа")


def _registry_application(
    doc: Any, profile: Profile, today: dt.date, links: Any, result: CheckResult
) -> None:
    """Excluded provider types by special name or by the name itself [6]; licence needed for inclusion [7].

    The optional ``special_name`` is what the provider says of itself; its full and short
    names are what it is registered under, so an excluded type there refuses the application
    even when ``special_name`` is empty or says otherwise.
    """
    assert isinstance(doc, ProviderRegistryApplication)
    categories = profile.excluded_special_names
    provider = doc.provider
    for field_name, code, label in (
        ("special_name", "provider_type_excluded", "Специальное наименование организации"),
        ("full_name", "provider_type_excluded_by_name", "Полное наименование организации"),
        ("short_name", "provider_type_excluded_by_name", "Сокращённое наименование организации"),
    ):
        category = excluded_category(getattr(provider, field_name), categories)
        if category is not None:
            result.refuse(
                code,
                f"/provider/{field_name}",
                f"{label} содержит специальное наименование «{category}»: образовательные организации "
                "дополнительного образования детей с таким специальным наименованием исключены из отбора "
                "исполнителей услуг постановлением муниципалитета",
            )
            break
    if doc.licence is None:
        result.notice(
            "licence_missing", "/licence",
            "Без сведений о лицензии на образовательную деятельность заявка не может привести к включению в реестр",
        )  # fmt: skip


def _cost_agreement(
    doc: Any, profile: Profile, today: dt.date, links: Mapping[str, LinkResolution], result: CheckResult
) -> None:
    assert isinstance(doc, CostAgreement)
    res = links.get("registry_application")
    if res is None or res.found is None or res.found.type != "provider_registry_application":
        return
    application = res.found
    if application.status not in LIVE_STATUSES:
        result.refuse(
            "provider_not_in_registry", "/registry_application",
            "Соглашение заключается с исполнителем, включённым в реестр по этой заявке",
        )  # fmt: skip
    if application.payload.get("provider", {}).get("inn") != doc.provider.inn:
        result.refuse(
            "provider_mismatch",
            "/provider/inn",
            "ИНН исполнителя не совпадает с ИНН в заявке на включение в реестр",
        )


def _age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _consumer_application(
    doc: Any, profile: Profile, today: dt.date, links: Any, result: CheckResult
) -> None:
    assert isinstance(doc, ConsumerApplication)
    rules = profile.consumer_application
    if not doc.consent_personal_data:
        result.refuse(
            "consent_required", "/consent_personal_data", "Нужно согласие на обработку персональных данных"
        )
    for kind in ("enrolment", "certificate"):
        if getattr(doc.requests, kind) and kind not in rules.request_kinds:
            result.refuse(
                "request_kind_not_allowed", f"/requests/{kind}",
                "Постановление муниципалитета не предусматривает такую просьбу в заявлении потребителя",
            )  # fmt: skip
    if doc.child.birth_date > doc.date:
        result.refuse(
            "birth_date_after_application", "/child/birth_date", "Дата рождения позже даты заявления"
        )
    else:
        age = _age_on(doc.child.birth_date, doc.date)
        if not rules.child_age_min <= age <= rules.child_age_max:
            result.refuse(
                "child_age_out_of_range", "/child/birth_date",
                f"Услуга оказывается детям от {rules.child_age_min} до {rules.child_age_max} лет включительно",
            )  # fmt: skip


def _social_certificate(
    doc: Any, profile: Profile, today: dt.date, links: Mapping[str, LinkResolution], result: CheckResult
) -> None:
    assert isinstance(doc, SocialCertificate)
    res = links.get("application")
    if res is None or res.found is None or res.found.type != "consumer_application":
        return
    application = res.found.payload
    if not application.get("requests", {}).get("certificate", False):
        result.refuse(
            "application_without_certificate_request", "/application",
            "В заявлении потребителя нет просьбы о выдаче социального сертификата",
        )  # fmt: skip
    if not _same_child(application.get("child", {}), doc.child.model_dump(mode="json")):
        result.refuse("child_mismatch", "/child", "Сведения о ребёнке не совпадают с заявлением")


def _service_contract(
    doc: Any, profile: Profile, today: dt.date, links: Mapping[str, LinkResolution], result: CheckResult
) -> None:
    assert isinstance(doc, ServiceContract)
    res = links.get("certificate")
    if res is None or res.found is None or res.found.type != "social_certificate":
        return
    cert = res.found.payload
    if res.found.status not in LIVE_STATUSES:
        result.refuse("certificate_not_issued", "/certificate", "Сертификат ещё не выдан")
    if doc.certificate_amount > _decimal(cert.get("nominal")):
        result.refuse(
            "certificate_amount_exceeds_nominal", "/certificate_amount",
            "Оплата за счёт сертификата превышает его номинал",
        )  # fmt: skip
    if not _covers(cert.get("services", []), doc.programme):
        result.refuse("service_not_covered", "/programme", "Услуга не входит в перечень услуг сертификата")
    if not _same_child(cert.get("child", {}), doc.child.model_dump(mode="json")):
        result.refuse("child_mismatch", "/child", "Сведения о ребёнке не совпадают с сертификатом")
    app = links.get("application")
    if (
        app is not None
        and app.found is not None
        # a combined application (D5 asking for the certificate too) must be the one the
        # certificate was issued on; an enrolment-only D5 (Livny's) uses a certificate from the register
        and app.found.payload.get("requests", {}).get("certificate", False)
        and cert.get("application", {}).get("number") != app.found.number
    ):
        result.refuse("application_mismatch", "/application", "Сертификат выдан по другому заявлению")


def _covers(services: list[Mapping[str, Any]], ref: ServiceRef) -> bool:
    return any(
        (ref.service_code is not None and s.get("service_code") == ref.service_code)
        or (ref.programme_id is not None and s.get("programme_id") == ref.programme_id)
        for s in services
    )


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _same_child(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.get("snils") and b.get("snils"):
        return bool(a["snils"] == b["snils"])
    keys = ("last_name", "first_name", "birth_date")
    return all(str(a.get(k, "")).casefold() == str(b.get(k, "")).casefold() for k in keys)


_SPECIFIC: dict[type, Any] = {
    SocialOrder: _social_order,
    OrderExecutionReport: _execution_report,
    ProviderRegistryApplication: _registry_application,
    CostAgreement: _cost_agreement,
    ConsumerApplication: _consumer_application,
    SocialCertificate: _social_certificate,
    ServiceContract: _service_contract,
}
