"""The compliance matrix: every item of a municipality's decree and plan, what enforces it, the tests that prove it.

Modules: :mod:`.model` (the matrix file), :mod:`.references` (the profile ids a matrix may
name), :mod:`.loader` (reading and checking the files in ``gateway/data/compliance``),
:mod:`.table` (the CLI table), :mod:`.api` (``GET /api/v1/municipalities/{id}/compliance``,
``gateway compliance`` and the check at ``gateway serve`` start).
"""

from __future__ import annotations

from gateway.features.compliance.api import add_commands, check_at_start, openapi_paths, routes
from gateway.workflow.feature import Feature, OpenApiPart

FEATURE = Feature(
    name="compliance",
    title="Соответствие постановлению",
    about="Матрица соответствия: каждый пункт постановления муниципалитета и плана, чем шлюз его обеспечивает и какие тесты это подтверждают.",
    routes=tuple(routes),
    openapi=lambda: OpenApiPart(paths=openapi_paths()),
    commands=add_commands,
    tasks=(check_at_start,),
)
