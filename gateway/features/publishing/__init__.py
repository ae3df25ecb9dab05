"""Publishing social orders (D1) and their execution reports (D2): Electronic Budget, then budget.gov.ru.

The way of a document: approval by the profile's role, signing, ``send`` (Livny: by the
finance department after the forwarding step) → the transport delivers it to Electronic
Budget, whose registration number lands in the delivery → the tracker polls Electronic
Budget's processing status: returned for correction (reasons shown, the document becomes
``returned`` and can be corrected, re-signed and sent again as a new message), accepted,
published → the tracker confirms the record on budget.gov.ru, marks the document
``published`` and closes the publication deadline with the portal's publication date.

Modules: :mod:`.rounds` (one row per submission, opened by ``send``), :mod:`.tracker`
(the background poller), :mod:`.correction` (the corrected version), :mod:`.views`
(the JSON shapes of the API), :mod:`.api` (routes, the tracker task, ``gateway publications track``).
"""

from __future__ import annotations

import functools

from gateway.context import Context
from gateway.features.publishing.api import add_commands, openapi_paths, openapi_schemas, routes, run
from gateway.features.publishing.rounds import on_send
from gateway.workflow.feature import Feature, OpenApiPart
from gateway.workflow.service import ActionHook


def _on_send(ctx: Context) -> ActionHook:
    return functools.partial(on_send, ctx)


FEATURE = Feature(
    name="publishing",
    title="Публикация",
    about="Публикация социальных заказов (D1) и отчётов об их исполнении (D2): «Электронный бюджет», затем budget.gov.ru; причины возврата и исправленные версии.",
    routes=tuple(routes),
    openapi=lambda: OpenApiPart(paths=openapi_paths, schemas=openapi_schemas),
    commands=add_commands,
    tasks=(run,),
    hooks=(_on_send,),
)
