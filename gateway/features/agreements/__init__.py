"""Agreements (D4) for signing: the provider's signing window, the Navigator's change feed, paper agreements.

Modules: :mod:`.signing_window` (opening, concluding, refusing and expiring the window),
:mod:`.api` (the poller, ``/api/v1/agreements/…`` and ``gateway agreements poll``).
"""

from __future__ import annotations

from gateway.features.agreements.api import action_hook_for, add_commands, openapi_paths, routes, run
from gateway.workflow.feature import Feature, OpenApiPart

FEATURE = Feature(
    name="agreements",
    title="Соглашения",
    about="Соглашения о финансовом обеспечении (D4) на подписании у исполнителя: окно подписания, лента изменений Навигатора дополнительного образования, соглашения на бумаге.",
    routes=tuple(routes),
    openapi=lambda: OpenApiPart(paths=openapi_paths()),
    commands=add_commands,
    tasks=(run,),
    hooks=(action_hook_for,),
)
