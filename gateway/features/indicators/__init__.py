"""The decree's indicators of the social order for a year (``/api/v1/indicators``)."""

from __future__ import annotations

from gateway.features.indicators.api import openapi_paths, routes
from gateway.workflow.feature import Feature, OpenApiPart

FEATURE = Feature(
    name="indicators",
    title="Показатели",
    about="Показатели социального заказа за год, предусмотренные постановлением, и их утверждение уполномоченным органом.",
    routes=tuple(routes),
    openapi=lambda: OpenApiPart(paths=openapi_paths),
)
