"""Russian words for the codes the pages show (statuses, actions, systems' states)."""

from __future__ import annotations

DOCUMENT_STATUS = {
    "submitted": "подан", "approved": "утверждён", "signed": "подписан", "sent": "отправлен",
    "delivered": "доставлен", "returned": "возвращён", "published": "опубликован", "concluded": "заключён",
    "refused": "отказ", "expired": "истёк срок", "rejected": "отклонён",
}  # fmt: skip
DELIVERY_STATUS = {
    "pending": "ожидает отправки", "sent": "отправлено", "delivered": "доставлено", "failed": "ошибка",
    "dead_lettered": "не доставлено (мёртвое письмо)", "returned": "возвращено", "accepted": "принято",
    "published": "опубликовано", "registered": "зарегистрировано",
}  # fmt: skip
ACTION = {"approve": "Утвердить", "sign": "Подписать", "send": "Отправить", "reject": "Отклонить"}
DEADLINE_STATUS = {"open": "открыт", "met": "выполнен", "overdue": "просрочен"}
RUN_STATUS = {"running": "идёт", "completed": "завершена", "failed": "ошибка", "interrupted": "прервана"}
BREAKER = {"closed": "работает", "open": "разомкнут", "half_open": "пробный запрос", "not_started": "не запускался"}
PUBLICATION_STATE = {
    "not_submitted": "не направлен", "submitted": "направлен", "registered": "зарегистрирован",
    "returned": "возвращён на доработку", "published": "опубликован", "accepted": "принят",
}  # fmt: skip


def word(table: dict[str, str], code: str | None) -> str:
    """The Russian word for ``code``, or the code itself when the table has none."""
    if code is None:
        return "—"
    return table.get(code, code)
