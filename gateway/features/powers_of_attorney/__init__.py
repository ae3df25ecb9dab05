"""Powers of attorney: the list of revoked machine-readable powers of attorney (МЧД) the gateway keeps.

A signature an employee makes under an МЧД is refused (``poa_revoked``) once the МЧД's
number is recorded here as revoked; the operator or the authorized body records what the
ФНС registry says.  The checks themselves live in :mod:`gateway.workflow.powers_of_attorney`.
"""

from __future__ import annotations

from gateway.features.powers_of_attorney.api import openapi_paths, routes
from gateway.workflow.feature import Feature, OpenApiPart

FEATURE = Feature(
    name="powers_of_attorney",
    title="Доверенности (МЧД)",
    about="Отзыв машиночитаемых доверенностей (МЧД): подписи, сделанные по отозванной доверенности, шлюз отклоняет.",
    routes=tuple(routes),
    openapi=lambda: OpenApiPart(paths=openapi_paths()),
)
