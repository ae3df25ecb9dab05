"""The features of the gateway and the document service that carries their hooks.

This is the one list of features: the HTTP app mounts their routes, the OpenAPI document
merges their parts, ``gateway serve`` runs their tasks, the CLI adds their commands, the
transport takes their consumers, and every :class:`DocumentService` gets their hooks.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.context import Context
from gateway.delivery.transport import GatewayTransport, HandlerFactory
from gateway.features.agreements import FEATURE as AGREEMENTS
from gateway.features.compliance import FEATURE as COMPLIANCE
from gateway.features.epgu import FEATURE as EPGU
from gateway.features.indicators import FEATURE as INDICATORS
from gateway.features.operations import FEATURE as OPERATIONS
from gateway.features.powers_of_attorney import FEATURE as POWERS_OF_ATTORNEY
from gateway.features.publishing import FEATURE as PUBLISHING
from gateway.features.registry_sync import FEATURE as REGISTRY_SYNC
from gateway.workflow.feature import Feature
from gateway.workflow.service import DocumentService

FEATURES: tuple[Feature, ...] = (
    EPGU, AGREEMENTS, REGISTRY_SYNC, PUBLISHING, INDICATORS, OPERATIONS, COMPLIANCE, POWERS_OF_ATTORNEY,
)


def build_service(ctx: Context, transport: GatewayTransport | None = None) -> DocumentService:
    """The document service with every feature's hooks; with a transport, actions wake its relay."""
    service = DocumentService(ctx, [make(ctx) for feature in FEATURES for make in feature.hooks])
    if transport is not None:
        service.on_enqueued = transport.wake
    return service


def handler_types() -> Mapping[str, HandlerFactory]:
    """The consumers features give for their systems (EPGU's records its statuses)."""
    out: dict[str, HandlerFactory] = {}
    for feature in FEATURES:
        out.update(feature.handlers)
    return out


def build_transport(ctx: Context) -> GatewayTransport:
    """The process's transport, with the features' consumers."""
    return GatewayTransport(ctx, handler_types())
