"""Operations: dead letters of the municipality, listed and replayed (operators and auditors)."""

from __future__ import annotations

from gateway.features.operations.api import openapi_paths, routes
from gateway.workflow.feature import Feature, OpenApiPart

FEATURE = Feature(
    name="operations",
    title="Эксплуатация",
    about="Недоставленные сообщения (dead letters) муниципалитета: просмотр и повторная отправка.",
    routes=tuple(routes),
    openapi=lambda: OpenApiPart(paths=openapi_paths()),
)
