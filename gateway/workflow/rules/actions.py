"""Workflow actions on a document and who may take them: pure functions over the profile.

Statuses: ``submitted`` → ``approved`` → (``signed``) → ``sent`` (then per-system delivery states),
or ``rejected``.  Steps from the profile (Livny's forwarding to the finance department,
posting on the website) record a dated event without changing the status.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway.documents.common import DocumentBase
from gateway.documents.order import SocialOrder
from gateway.documents.provider import ProviderRegistryApplication
from gateway.documents.status import ACTION_TRANSITIONS, LIVE_STATUSES
from gateway.municipalities.profile import Profile, Role
from gateway.workflow.rules.violations import Violation


@dataclass(frozen=True)
class Actor:
    """Who acts: bound by the bearer token to one municipality, organisation and role."""

    municipality: str
    org: str
    role: Role
    token_id: str | None = None
    inn: str | None = None
    ogrn: str | None = None

    @property
    def label(self) -> str:
        """Who acted, as the journal names it: a provider by its INN (names are not identities)."""
        if self.role is Role.provider and self.inn:
            return f"provider:{self.inn}"
        return f"{self.role.value}:{self.org}"


def permitted(profile: Profile, doc_type: str, action: str, actor: Actor) -> bool:
    if actor.municipality != profile.id:
        return False
    rule = profile.permissions.get(doc_type, {}).get(action)
    if rule is None:
        return False
    return any(actor.role in p.roles and (p.orgs is None or actor.org in p.orgs) for p in rule.allowed)


def known_actions(profile: Profile, doc_type: str) -> set[str]:
    return set(profile.permissions.get(doc_type, {})) - {"create"}


@dataclass(frozen=True)
class ActionRequest:
    action: str
    doc_type: str
    status: str
    doc: DocumentBase
    done_steps: frozenset[str]
    effective_date: dt.date
    today: dt.date


def check_action(req: ActionRequest, profile: Profile, actor: Actor) -> list[Violation]:
    """Everything that must hold for ``actor`` to take ``req.action``; empty means go."""
    if req.action not in known_actions(profile, req.doc_type):
        return [
            Violation(
                "action_unknown", "", f"Действие «{req.action}» для документа этого вида не предусмотрено"
            )
        ]
    if not permitted(profile, req.doc_type, req.action, actor):
        return [
            Violation(
                "action_forbidden", "",
                "Это действие по постановлению муниципалитета выполняет другая организация или роль",
            )
        ]  # fmt: skip
    out: list[Violation] = []
    if req.effective_date > req.today:
        out.append(
            Violation("effective_date_in_future", "/date", "Дата действия не может быть позже сегодняшней")
        )
    if req.effective_date < req.doc.date:
        out.append(
            Violation("effective_date_before_document", "/date", "Дата действия раньше даты документа")
        )
    step = profile.step(req.action)
    if step is not None:
        if req.action in req.done_steps:
            out.append(Violation("step_already_done", "", "Этот шаг уже выполнен"))
        if req.status == "rejected" or (step.clock == "approved" and req.status not in LIVE_STATUSES):
            out.append(Violation("invalid_state", "", "Шаг недоступен в текущем статусе документа"))
        return out
    sources, _ = ACTION_TRANSITIONS[req.action]
    if req.status not in sources:
        out.append(Violation("invalid_state", "", f"Действие недоступно в статусе «{req.status}»"))
        return out
    rule = profile.permissions[req.doc_type][req.action]
    missing = [s for s in rule.requires_steps if s not in req.done_steps]
    if missing:
        titles = "; ".join(step.title for s in missing if (step := profile.step(s)) is not None)
        out.append(Violation("steps_required", "", f"Сначала должны быть выполнены шаги: {titles}"))
    if (
        req.action == "approve"
        and isinstance(req.doc, ProviderRegistryApplication)
        and req.doc.licence is None
    ):
        # [7] plan 5.1: "по заявке, основанием является лицензия"
        out.append(
            Violation(
                "licence_required", "/payload/licence",
                "Включение в реестр исполнителей возможно только на основании лицензии на образовательную деятельность",
            )
        )  # fmt: skip
    if req.action == "send":
        if req.doc_type in profile.signature_required and req.status != "signed":
            # Livny it. 9: documents exchanged through the systems carry a qualified signature [2]
            out.append(
                Violation(
                    "signature_required", "",
                    "Документ направляется в систему только подписанным УКЭП лица, имеющего право действовать "
                    "от имени уполномоченного органа или исполнителя услуг",
                )
            )  # fmt: skip
        if getattr(req.doc, "paper", None) is not None:
            out.append(
                Violation(
                    "paper_document_not_sendable",
                    "",
                    "Документ на бумажном носителе не отправляется в системы",
                )
            )
        if isinstance(req.doc, SocialOrder):
            out += _programme_mappings(req.doc, profile)
    return out


def _programme_mappings(doc: SocialOrder, profile: Profile) -> list[Violation]:
    """[15] A social order that names programmes can be published only once each maps to a registry code."""
    out = []
    for i, service in enumerate(doc.services):
        if service.service_code is None and service.programme_id is not None:
            programme = profile.programme(service.programme_id)
            if programme is None or programme.service_code is None:
                out.append(
                    Violation(
                        "programme_code_mapping_missing",
                        f"/payload/services/{i}/programme_id",
                        f"Ошибка конфигурации: программе {service.programme_id} не сопоставлен код услуги "
                        "базового перечня; публикация социального заказа невозможна, пока соответствие "
                        "не задано в профиле муниципалитета",
                    )
                )
    return out
