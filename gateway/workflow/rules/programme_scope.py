"""Is a programme inside the decrees' scope?  Pure, no I/O.

Every decree's it. 1 organises the municipal services «по направлению деятельности
«реализация дополнительных образовательных программ (за исключением дополнительных
предпрофессиональных программ в области искусств)»», and the documents of the exchange
are named after the service «реализация дополнительных общеразвивающих программ для детей».
A programme's kind is declared in ``programme_kind``; a name that itself calls the programme
(the service, the order's direction) a pre-professional arts one is read as well, so that
leaving the kind at its default does not let such a programme in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import BaseModel

from gateway.documents.common import ProgrammeKind, ProgrammeRef
from gateway.documents.walk import iter_parts
from gateway.workflow.rules.provider_types import normalise_name
from gateway.workflow.rules.violations import Violation

#: The decrees' words, verbatim in all five (it. 1).
EXCLUSION_QUOTE = "за исключением дополнительных предпрофессиональных программ в области искусств"
DETAIL = (
    "Оказание муниципальных услуг организовано по направлению деятельности «реализация дополнительных "
    f"образовательных программ ({EXCLUSION_QUOTE})» (п. 1 постановления муниципалитета): "
    "дополнительные предпрофессиональные программы в области искусств в него не входят"
)
KIND_EXCLUDED = "programme_kind_excluded"
NAMED_EXCLUDED = "programme_kind_excluded_by_name"

# The decree's own «(за исключением …)»: what it names is left out, not included.
_EXCEPTION_CLAUSE = re.compile(r"за\s+исключением[^)]*", re.IGNORECASE)
# A name that *is* a pre-professional arts programme or service: it opens with the programme
# noun phrase («Реализация дополнительных предпрофессиональных программ в области искусств»,
# «Дополнительная предпрофессиональная программа в области музыкального искусства «Фортепиано»»).
# A phrase governed by another word («Подготовка к освоению … предпрофессиональных программ …»)
# names a different, general development programme.
_PRE_PROFESSIONAL_ARTS = re.compile(
    r"^(?:\d+ )*"
    r"(?:(?:реализаци\w*|дополнительн\w*|общеобразовательн\w*|образовательн\w*|общеразвивающ\w*|и) )*"
    r"пред ?профессиональн\w* (?:общеобразовательн\w* )?программ\w* в област\w* (?:\w+ ){0,2}?искусств\w*"
)


def names_pre_professional_arts(text: str | None) -> bool:
    """Whether ``text`` names a pre-professional arts programme (outside a «за исключением» clause)."""
    if not text:
        return False
    return _PRE_PROFESSIONAL_ARTS.search(normalise_name(_EXCEPTION_CLAUSE.sub(" ", text))) is not None


def _name_field(ref: ProgrammeRef) -> str | None:
    for name in ("service_name", "programme_name"):
        if name in type(ref).model_fields:
            return name
    return None


def scope_violations(doc: BaseModel) -> Iterator[Violation]:
    """One violation per programme line of ``doc`` that is, or is named as, a pre-professional arts programme."""
    for pointer, ref in iter_parts(doc, ProgrammeRef):
        if ref.programme_kind == ProgrammeKind.pre_professional_arts:
            yield Violation(KIND_EXCLUDED, f"{pointer}/programme_kind", DETAIL)
            continue
        field = _name_field(ref)
        if field is not None and names_pre_professional_arts(getattr(ref, field)):
            yield Violation(
                NAMED_EXCLUDED,
                f"{pointer}/{field}",
                f"Наименование называет дополнительную предпрофессиональную программу в области искусств. {DETAIL}",
            )


def direction_violation(direction: str) -> Violation | None:
    """The social order's direction must not take pre-professional arts programmes in (it. 1)."""
    if names_pre_professional_arts(direction):
        return Violation(
            NAMED_EXCLUDED,
            "/direction",
            f"Направление деятельности социального заказа включает дополнительные предпрофессиональные "
            f"программы в области искусств. {DETAIL}",
        )
    return None
