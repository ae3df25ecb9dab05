"""The recipients' register of social certificates, synchronised with the Navigator and EAIS DO.

Modules: :mod:`.register` (the register's rows and what D6 issue/revocation writes),
:mod:`.reconcile` (the pure decision per record), :mod:`.run_state` (a run's progress and
report), :mod:`.pushes` (corrections to the systems), :mod:`.sync` (a run, leased per
municipality), :mod:`.api` (the API, ``gateway registry sync`` and the periodic task).
"""

from __future__ import annotations

from gateway.features.registry_sync.api import action_hook_for, add_commands, openapi_paths, routes, run
from gateway.workflow.feature import Feature, OpenApiPart

FEATURE = Feature(
    name="registry_sync",
    title="Реестр сертификатов",
    about="Реестр получателей социальных сертификатов и его сверка с Навигатором дополнительного образования и ЕАИС ДО.",
    routes=tuple(routes),
    openapi=lambda: OpenApiPart(paths=openapi_paths()),
    commands=add_commands,
    tasks=(run,),
    hooks=(action_hook_for,),
)
