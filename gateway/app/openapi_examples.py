"""Examples of the API's requests and answers in ``/api/openapi.json`` (Swagger UI offers them).

They are built from the gateway's own data where it has some: the bundled municipality
profiles (Luga), the document types and their JSON Schemas, the example payload each type has
for a municipality, the compliance matrix.  The people in them are fictional and every
identifier (ИНН, ОГРН, СНИЛС) is synthetic with valid check digits; dates and ids are fixed,
so the document is the same on every build.  ``tests/app/test_openapi_texts.py`` validates
every example against the schema it illustrates.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from gateway.core.settings import PACKAGE_DATA
from gateway.documents.identifiers import make_inn10, make_inn12, make_ogrn, make_snils
from gateway.documents.model_schema import json_schema
from gateway.documents.registry import DOCUMENT_TYPES
from gateway.features.compliance.api import matrix_json
from gateway.features.compliance.loader import ComplianceError
from gateway.features.compliance.loader import load as load_matrix
from gateway.municipalities import Profile
from gateway.municipalities.loader import load_profiles
from gateway.workflow.examples import example_payload

#: The municipality and the day the examples describe.
MUNICIPALITY = "luga"
TODAY = dt.date(2026, 11, 23)
#: Fixed ids of the documents the examples talk about.
ORDER_ID = "3f0c1a52-8d7e-4b7a-9a51-0c2f6f4b9e10"
APPLICATION_ID = "6b1d2e7a-41c3-4f0e-9d8b-2a7c5e9f1b34"
CERTIFICATE_ID = "9a4e6c21-7b58-4d3f-8e12-5f0a3b6c7d89"
CONTRACT_ID = "c2d7f4a8-3e91-4b6c-a05d-8e1f2b3c4d5e"
AGREEMENT_ID = "4e8a1c3b-9d27-4f56-b1e0-7c2d5a6f8e90"
RUN_ID = "d5b2e8f1-6a34-4c79-8b0e-1f2a3c4d5e6f"
POA_NUMBER = "0b7e5c2a-1d4f-4e8b-9a36-5c7d8e9f0a1b"
#: A fictional provider: a non-profit organisation of Leningrad oblast (region 47).
PROVIDER = {"name": "Автономная некоммерческая организация дополнительного образования «Пример»",
            "inn": make_inn10(1234567, region="47"), "ogrn": make_ogrn(1234567), "kpp": "471001001"}  # fmt: skip
#: A SHA-256 written out in full (the examples' hashes all look like this one).
SHA256 = "9f2c4e6a8b0d1f3e5c7a9b1d3f5e7c9a0b2d4f6e8a1c3e5f7b9d0a2c4e6f8b1d"
#: The first bytes of a DER CMS SignedData, base64 (an illustration, not a verifiable signature).
CMS_BASE64 = "MIAGCSqGSIb3DQEHAqCAMIACAQExDjAMBggqhQMHAQECAgUAMIAGCSqGSIb3DQEHAQAAoIA="


def _ex(summary: str, value: Any) -> dict[str, Any]:
    return {"summary": summary, "value": value}


@cache
def _profile() -> Profile:
    return load_profiles(PACKAGE_DATA / "municipalities")[MUNICIPALITY]


def payload_example(doc_type: str) -> dict[str, Any]:
    """The type's example payload for Luga with fixed numbers and identifiers."""
    payload = example_payload(doc_type, _profile(), TODAY)
    payload["number"] = {"social_order": "LUG-2026-01", "social_certificate": "4700000042",
                         "service_contract": "LUG-2026-D-0042", "consumer_application": "LUG-2026-Z-0042"}.get(
        doc_type, f"LUG-2026-{DOCUMENT_TYPES[doc_type].code}-0001")  # fmt: skip
    for person, seed in (("child", 42), ("applicant", 43), ("holder", 43), ("consumer", 43)):
        if isinstance(payload.get(person), dict) and "snils" in payload[person]:
            payload[person]["snils"] = make_snils(seed)
    if doc_type == "social_certificate":
        payload["application"] = {"number": "LUG-2026-Z-0042"}
    if doc_type == "service_contract":
        payload["certificate"] = {"number": "4700000042"}
        payload["application"] = {"number": "LUG-2026-Z-0042"}
        payload["provider"] = {"name": "Индивидуальный предприниматель Примеров Пример Примерович",
                               "inn": make_inn12(4242, region="47")}  # fmt: skip
    return payload


def _summary(doc_id: str, doc_type: str, status: str, created: str = "2026-11-23T09:15:02.000000Z",
             updated: str = "2026-11-24T11:40:27.000000Z") -> dict[str, Any]:  # fmt: skip
    return {"id": doc_id, "type": doc_type, "code": DOCUMENT_TYPES[doc_type].code, "municipality": MUNICIPALITY,
            "number": payload_example(doc_type)["number"], "date": TODAY.isoformat(), "status": status, "paper": False,
            "created_at": created, "updated_at": updated}  # fmt: skip


def _document(doc_id: str, doc_type: str, status: str, *, actions: list[str], org: str = "administration",
              role: str = "authorized_body", approved: bool = True) -> dict[str, Any]:  # fmt: skip
    profile = _profile()
    systems = profile.routing.get(doc_type, [])
    return {
        **_summary(doc_id, doc_type, status),
        "document_name": profile.document_names[doc_type],
        "approved_on": "2026-11-24" if approved else None,
        "steps": {},
        "created_by": {"org": org, "role": role},
        "systems": [{"system": s, "name": profile.systems[s].name} for s in systems],
        "deliveries": [],
        "actions": actions,
        "payload": payload_example(doc_type),
        "personal_data_hidden": [],
        "links": {"self": f"/api/v1/documents/{doc_id}", "journal": f"/api/v1/documents/{doc_id}/journal",
                  "xml": f"/api/v1/documents/{doc_id}/xml"},
    }  # fmt: skip


def _order_deadline() -> dict[str, Any]:
    return {"kind": "approve", "category": "document", "title": "Утверждение социального заказа",
            "municipality": MUNICIPALITY, "document_id": ORDER_ID, "started_on": "2026-11-23", "due": "2026-12-01",
            "met_on": None, "status": "open", "late": False, "source": "it. 7(2)"}  # fmt: skip


def _plan_deadline(*, confirmed: bool) -> dict[str, Any]:
    row = _profile().decree_deadlines[0]
    return {
        "kind": row.kind, "category": "plan", "title": row.title, "municipality": MUNICIPALITY, "document_id": None,
        "started_on": None, "due": "2026-12-15", "met_on": "2026-11-20" if confirmed else None,
        "status": "met" if confirmed else "open", "late": False, "source": "plan 1.2",
        "confirmation": {"on": "2026-11-20", "by": "education_committee",
                         "comment": "Значения утверждены распоряжением от 20.11.2026 № 123-р"} if confirmed else None,
    }  # fmt: skip


def _core() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    profile = _profile()
    order = payload_example("social_order")
    approved = _document(ORDER_ID, "social_order", "approved", actions=["reject", "sign"])
    types = [{"type": t.id, "code": t.code, "title": t.title, "schema": f"/api/v1/schemas/{t.id}",
              "xml_root": t.xml_root, "personal_data": t.has_personal_data} for t in DOCUMENT_TYPES.values()]  # fmt: skip
    municipalities = [{"id": p.id, "name": p.name, "region": p.region, "decree_status": p.decree.status,
                       "warnings": [w.model_dump() for w in p.warnings]}
                      for p in load_profiles(PACKAGE_DATA / "municipalities").values()]  # fmt: skip
    signed_at = "2026-11-24T12:05:41.000000Z"
    return {
        ("post", "/api/v1/documents"): {
            "request": {"social_order": _ex("Социальный заказ Лужского района на 2027 год (JSON)",
                                            {"type": "social_order", "municipality": MUNICIPALITY, "payload": order})},
            "202": {"accepted": _ex("Документ принят", {
                "id": ORDER_ID, "type": "social_order", "municipality": MUNICIPALITY, "number": order["number"],
                "status": "submitted", "deliveries": [], "warnings": []})},
        },
        ("get", "/api/v1/documents"): {"200": {"page": _ex("Первая страница", {
            "items": [_summary(ORDER_ID, "social_order", "approved")], "page": 1, "page_size": 50, "total": 1})}},
        ("get", "/api/v1/documents/{id}"): {"200": {"approved_order": _ex("Утверждённый социальный заказ", approved)}},
        ("get", "/api/v1/documents/{id}/journal"): {"200": {"journal": _ex("Приём и утверждение", {
            "document_id": ORDER_ID, "items": [
                {"seq": 1, "at": "2026-11-23T09:15:02.000000Z", "actor": "authorized_body:administration",
                 "event": "submitted", "details": {"number": order["number"]}, "position": 1041, "hash": SHA256},
                {"seq": 2, "at": "2026-11-24T11:40:27.000000Z", "actor": "authorized_body:administration",
                 "event": "approved", "details": {"comment": "Согласовано"}, "position": None, "hash": None},
            ]})}},  # fmt: skip
        ("get", "/api/v1/documents/{id}/signatures"): {"200": {"server_signature": _ex(
            "Подпись ключом организации на сервере", {"document_id": ORDER_ID, "items": [{
                "source": "server", "signer_role": "authorized_body", "signer_org": "administration",
                "subject": "CN=Администрация Лужского муниципального района,O=Администрация Лужского муниципального района",
                "inn": make_inn10(7654321, region="47"), "ogrn": make_ogrn(7654321),
                "serial": "01dc7a5e3b2f4a61", "content_sha256": SHA256, "signed_at": signed_at, "cms": CMS_BASE64,
                "power_of_attorney": None}]})}},  # fmt: skip
        ("post", "/api/v1/documents/{id}/{action}"): {
            "request": {
                "approve": _ex("Согласовать (approve) с комментарием", {"date": "2026-11-24", "comment": "Согласовано"}),
                "reject": _ex("Отклонить (reject) с причиной",
                              {"reason": "Не указан объём услуги на второй год планового периода"}),
                "sign": _ex("Подписать (sign) ключом организации на сервере", {}),
            },
            "200": {"approved": _ex("Документ после согласования", approved)},
        },
        ("get", "/api/v1/schemas"): {"200": {"types": _ex("Все виды документов", {"items": types})}},
        ("get", "/api/v1/schemas/{type}"): {"200": {"social_order": _ex("Схема социального заказа (D1)", {
            "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "/api/v1/schemas/social_order",
            **json_schema("social_order")})}},
        ("get", "/api/v1/schemas/{type}/example"): {"200": {"social_order": _ex(
            "Социальный заказ для Лужского района", order)}},
        ("get", "/api/v1/municipalities"): {"200": {"bundled": _ex("Муниципалитеты из поставки шлюза",
                                                                   {"items": municipalities})}},
        ("get", "/api/v1/municipalities/{id}"): {"200": {"luga": _ex("Профиль Лужского района",
                                                                     profile.model_dump(mode="json"))}},
        ("get", "/api/v1/deadlines"): {"200": {"open": _ex("Открытые сроки", {
            "items": [_order_deadline(), _plan_deadline(confirmed=False)], "municipality": MUNICIPALITY,
            "today": TODAY.isoformat()})}},
        ("post", "/api/v1/deadlines/{kind}/confirm"): {
            "request": {"plan_row": _ex("Подтверждение строки плана", {
                "municipality": MUNICIPALITY, "date": "2026-11-20",
                "comment": "Значения утверждены распоряжением от 20.11.2026 № 123-р"})},
            "200": {"met": _ex("Срок соблюдён", _plan_deadline(confirmed=True))},
        },
        ("get", "/healthz"): {"200": {"ok": _ex("Процесс работает", {"status": "ok"})}},
        ("get", "/readyz"): {"200": {"ready": _ex("Всё доступно", {
            "status": "ready", "checks": {"database": "ok", "transport": "rabbitmq", "queue": "ok",
                                          "outbox": {"unsent": 0, "oldest_age_s": None, "max_age_s": 300.0},
                                          "systems": {"electronic_budget": "closed", "navigator": "closed"}}})}},
        ("get", "/api/openapi.json"): {"200": {"abbreviated": _ex("Начало документа (сокращено)", {
            "openapi": "3.1.0", "info": {"title": "Шлюз социального заказа (189-ФЗ)", "version": "1.0.0"},
            "paths": {"/healthz": {}}})}},
    }  # fmt: skip


def _features() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    application = _summary(APPLICATION_ID, "consumer_application", "approved")
    certificate = _document(CERTIFICATE_ID, "social_certificate", "approved", actions=["sign"], org="support_centre")
    contract = _document(CONTRACT_ID, "service_contract", "approved", actions=["sign"], org="support_centre",
                         role="operator")  # fmt: skip
    window = {"working_days": 5, "started_on": "2026-11-23", "due": "2026-11-27", "met_on": None, "status": "open",
              "late": False, "source": "plan 5.2"}  # fmt: skip
    agreement: dict[str, Any] = {
        "id": AGREEMENT_ID, "number": "LUG-2026-D4-0001", "municipality": MUNICIPALITY, "status": "sent",
        "status_text": "направлено исполнителю на подписание", "waiting": True, "paper": False,
        "navigator_id": "agr-2026-000417",
        "provider": {"name": PROVIDER["name"], "inn": PROVIDER["inn"], "ogrn": PROVIDER["ogrn"]},
        "window": window,
        "outcome": None,
        "signatures": [{"signer_role": "authorized_body", "source": "server", "inn": make_inn10(7654321, region="47"),
                        "ogrn": make_ogrn(7654321), "serial": "01dc7a5e3b2f4a61", "signed_at": "2026-11-23T10:02:11.000000Z"}],
        "refused_signatures": [],
    }  # fmt: skip
    on_paper = {**agreement, "status": "concluded", "status_text": "заключено на бумаге", "waiting": False,
                "paper": True, "window": {**window, "met_on": "2026-11-25", "status": "met"},
                "outcome": {"event": "concluded_on_paper", "at": "2026-11-25T14:30:00.000000Z", "code": None, "detail": None}}  # fmt: skip
    run = {
        "run_id": RUN_ID, "municipalities": [MUNICIPALITY], "mode": "incremental", "status": "running",
        "phase": "navigator", "processed": 0, "total": None, "percent": None, "counts": {}, "error": None,
        "started_by": "operator:support_centre", "started_at": "2026-11-23T08:00:00.000000Z",
        "updated_at": "2026-11-23T08:00:00.000000Z", "finished_at": None, "report": {},
        "links": {"self": f"/api/v1/registry/sync/{RUN_ID}"},
    }  # fmt: skip
    done = {**run, "status": "completed", "phase": "corrections", "processed": 412, "total": 412, "percent": 100.0,
            "counts": {"added": 3, "changed": 1, "removed": 0, "conflicting": 0, "unchanged": 408, "eais_pushed": 4,
                       "eais_failed": 0, "navigator_corrected": 0, "navigator_failed": 0},
            "updated_at": "2026-11-23T08:03:17.000000Z", "finished_at": "2026-11-23T08:03:17.000000Z",
            "report": {"added": {"count": 3, "items": [{"municipality": MUNICIPALITY, "number": "4700000042"}]},
                       "changed": {"count": 1, "items": [{"municipality": MUNICIPALITY, "number": "4700000017"}]}}}  # fmt: skip
    returned_round = {
        "revision": 0, "state": "returned", "message_id": "b7e9c1d3-5f2a-4e8b-9c0d-1a2b3c4d5e6f",
        "submitted_on": "2026-11-25", "correction_of": None, "registration_number": "03452-2026-000118",
        "reasons": [{"code": "R-214", "text": "Объём услуги на 2028 год не совпадает с планом"}],
        "publish_date": None, "publication": None, "corrected": True,
    }  # fmt: skip
    new_round = {**returned_round, "revision": 1, "state": "submitted", "message_id": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b",
                 "submitted_on": "2026-11-27", "correction_of": "b7e9c1d3-5f2a-4e8b-9c0d-1a2b3c4d5e6f",
                 "registration_number": None, "reasons": [], "corrected": False}  # fmt: skip
    publication = {
        "document_id": ORDER_ID, "type": "social_order", "number": "LUG-2026-01", "municipality": MUNICIPALITY,
        "document_status": "returned", "state": "returned", "registration_number": "03452-2026-000118",
        "reasons": returned_round["reasons"], "publish_date": None, "rounds": [returned_round],
        "deadline": {"kind": "budget_portal_publication", "category": "document",
                     "title": "Размещение социального заказа на едином портале бюджетной системы",
                     "municipality": MUNICIPALITY, "document_id": ORDER_ID, "started_on": "2026-11-24",
                     "due": "2026-12-08", "met_on": None, "status": "open", "late": False, "source": "it. 7(3)"},
        "links": {"document": f"/api/v1/documents/{ORDER_ID}", "journal": f"/api/v1/documents/{ORDER_ID}/journal",
                  "correction": f"/api/v1/publications/{ORDER_ID}/correction"},
    }  # fmt: skip
    corrected = payload_example("social_order")
    corrected["services"][0]["volumes"][2]["value"] = "15000"
    table = {
        "municipality": MUNICIPALITY, "year": 2026, "source": "plan 1.2", "computed_on": TODAY.isoformat(),
        "items": [
            {"id": "3.4", "text": "Доля детей, получивших услугу по социальному сертификату", "unit": "%",
             "computable": "yes", "value": 27, "method": "сертификаты с договором / дети 5–18 лет по данным профиля",
             "denominator": 6200},
            {"id": "1.2", "text": "Количество некоммерческих организаций среди исполнителей услуг", "unit": "ед.",
             "computable": "partial", "value": 4, "method": "по реестру исполнителей; форма у двух не указана",
             "unknown_legal_form": 2},
            {"id": "2.1", "text": "Удовлетворённость потребителей качеством услуг", "unit": "%", "computable": "no",
             "value": None, "method": "шлюз не получает результаты опросов потребителей"},
        ],
        "approval": None,
    }  # fmt: skip
    approved_table = {**table, "approval": {
        "approved_on": TODAY.isoformat(), "approved_by": "authorized_body:administration",
        "comment": "Распоряжение администрации от 23.11.2026 № 130-р", "sha256": SHA256,
        "values": {"3.4": 27, "1.2": 4}}}  # fmt: skip
    letter = {
        "id": 17, "message_id": "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d", "system": "electronic_budget",
        "routing_key": "delivery.electronic_budget", "document_id": ORDER_ID, "document_type": "social_order",
        "reason": "попытки доставки исчерпаны: «Электронный бюджет» отвечал 503", "attempts": 8, "replays": 0,
        "dead_lettered_at": "2026-11-24T13:12:09.000000Z", "replayed_at": None, "size": 18342,
    }  # fmt: skip
    revocation = {
        "number": POA_NUMBER, "revoked_at": "2026-11-20T00:00:00.000000Z", "reason": "Доверенность отозвана доверителем",
        "municipality": MUNICIPALITY, "recorded_by": "operator:support_centre", "recorded_at": "2026-11-23T10:00:00.000000Z",
    }  # fmt: skip
    profile = _profile()
    try:
        matrix = load_matrix(profile)
    except ComplianceError:  # the route answers 500 then; the description stays buildable
        matrix = None
    compliance = matrix_json(profile, matrix) if matrix is not None else None
    if compliance is not None:  # the first items only: the whole matrix is in the answer
        compliance = {**compliance, "items": compliance["items"][:2], "gateway_checks": compliance["gateway_checks"][:1]}
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
        ("get", "/api/v1/applications/{id}"): {"200": {"chain": _ex("Заявление с ЕПГУ: сертификат выдан, договор заключён", {
            "application": application, "source_system": "epgu", "requests": {"enrolment": True, "certificate": True},
            "certificates": [_summary(CERTIFICATE_ID, "social_certificate", "approved")],
            "contracts": [_summary(CONTRACT_ID, "service_contract", "approved")],
            "epgu": {"smev_message_id": "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b", "order_id": "4700123456",
                     "received_at": "2026-11-23T07:55:12.000000Z", "statuses": [
                         {"decision": "certificate_issued", "status": "delivered",
                          "smev_message_id": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d", "updated_at": "2026-11-23T12:01:40.000000Z"}]}})}},
        ("post", "/api/v1/applications/{id}/issue-certificate"): {
            "request": {"nominal": _ex("Сертификат номиналом 15 000 ₽ до конца года", {
                "nominal": "15000.00", "period": {"valid_from": "2026-11-23", "valid_to": "2026-12-31"}, "send": True})},
            "201": {"issued": _ex("Сертификат выдан", {"certificate": certificate, "warnings": []})},
        },
        ("post", "/api/v1/applications/{id}/conclude-contract"): {
            "request": {"contract": _ex("Договор на 72 часа: 10 000 ₽ по сертификату, 2 000 ₽ родитель", {
                "hours": 72, "price": "12000.00", "certificate_amount": "10000.00",
                "certificate": {"id": CERTIFICATE_ID}})},
            "201": {"concluded": _ex("Договор заключён", {"contract": contract, "warnings": []})},
        },
        ("get", "/api/v1/agreements/{id}"): {"200": {"waiting": _ex("Ожидает подписи исполнителя", agreement)}},
        ("post", "/api/v1/agreements/{id}/paper"): {
            "request": {"empty": _ex("Пустое тело", {})},
            "200": {"on_paper": _ex("Заключено на бумаге", on_paper)},
        },
        ("post", "/api/v1/agreements/poll"): {"200": {"pass": _ex("Итог прохода", {
            "changes": 3, "concluded": 2, "signatures_refused": 0, "refused_by_provider": 0, "expired": 1,
            "unmatched": 0, "duplicates": 0, "skipped": 0})}},
        ("post", "/api/v1/registry/sync"): {
            "request": {"incremental": _ex("Только изменения, с исправлениями в обеих системах", {"full": False}),
                        "full": _ex("Полная сверка без исправлений", {"full": True, "push_eais": False,
                                                                      "push_navigator": False})},
            "202": {"started": _ex("Сверка запущена", run)},
        },
        ("get", "/api/v1/registry/sync/{run_id}"): {"200": {"completed": _ex("Сверка завершена", done)}},
        ("get", "/api/v1/publications"): {"200": {"returned": _ex("Возвращённый социальный заказ", {
            "items": [{**returned_round, "document_id": ORDER_ID, "type": "social_order", "number": "LUG-2026-01",
                       "document_status": "returned"}], "municipality": MUNICIPALITY})}},
        ("get", "/api/v1/publications/{id}"): {"200": {"returned": _ex("Возвращён на доработку", publication)}},
        ("post", "/api/v1/publications/{id}/correction"): {
            "request": {"corrected": _ex("Исправлен объём услуги на 2028 год", {
                "payload": corrected, "comment": "Объём на 2028 год приведён в соответствие с планом"})},
            "200": {"corrected": _ex("Исправленная версия утверждена", {
                "document": _document(ORDER_ID, "social_order", "approved", actions=["sign"]),
                "publication": {**publication, "document_status": "approved", "state": "submitted", "reasons": [],
                                "registration_number": None, "rounds": [returned_round, new_round]}})},
        },
        ("get", "/api/v1/indicators"): {"200": {"table": _ex("Показатели за 2026 год", table)}},
        ("post", "/api/v1/indicators/approve"): {
            "request": {"approve": _ex("Утвердить показатели за 2026 год", {
                "municipality": MUNICIPALITY, "year": 2026,
                "comment": "Распоряжение администрации от 23.11.2026 № 130-р"})},
            "200": {"approved": _ex("Таблица утверждена", approved_table)},
        },
        ("get", "/api/v1/dead-letters"): {"200": {"one": _ex("Одно недоставленное сообщение", {
            "items": [letter], "next_after_id": None})}},
        ("post", "/api/v1/dead-letters/{id}/replay"): {
            "request": {"comment": _ex("С комментарием", {"comment": "«Электронный бюджет» снова доступен"})},
            "200": {"replayed": _ex("Отправлено повторно", {
                "replayed": True, "dead_letter_id": 17, "message_id": letter["message_id"], "replays": 1})},
        },
        ("post", "/api/v1/dead-letters/replay"): {"200": {"two": _ex("Оба сообщения отправлены повторно", {
            "replayed": [{"dead_letter_id": 17, "message_id": letter["message_id"], "replays": 1},
                         {"dead_letter_id": 18, "message_id": "6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e", "replays": 1}]})}},
        ("post", "/api/v1/dead-letters/discard"): {"200": {"one": _ex("Одно сообщение удалено", {
            "discarded": [{"dead_letter_id": 17, "message_id": letter["message_id"]}]})}},
        ("post", "/api/v1/powers-of-attorney/revocations"): {
            "request": {"revoke": _ex("Отзыв с даты отзыва в реестре ФНС", {
                "number": POA_NUMBER, "revoked_at": "2026-11-20T00:00:00.000000Z",
                "reason": "Доверенность отозвана доверителем"})},
            "201": {"recorded": _ex("Отзыв зарегистрирован", revocation)},
        },
        ("get", "/api/v1/powers-of-attorney/revocations"): {"200": {"page": _ex("Первая страница", {
            "items": [revocation], "page": 1, "page_size": 50, "total": 1})}},
    }  # fmt: skip
    if compliance is not None:
        out[("get", "/api/v1/municipalities/{id}/compliance")] = {
            "200": {"luga": _ex("Лужский район: первые пункты матрицы", compliance)}}
    return out


@cache
def examples() -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """Named examples by operation (method, path), then by ``request`` or the answer's status."""
    return {**_core(), **_features()}


def add_examples(paths: dict[str, Any]) -> None:
    """Put the examples into the JSON request bodies and answers of ``paths`` that have none yet."""
    for (method, path), by_place in examples().items():
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        for place, named in by_place.items():
            holder = operation.get("requestBody") if place == "request" else operation["responses"].get(place)
            media = (holder or {}).get("content", {}).get("application/json")
            if media is not None and "examples" not in media and "example" not in media:
                media["examples"] = named
