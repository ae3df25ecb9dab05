"""The jobs users run the gateway for, each a module here (publishing, agreements, registry sync…).

A flow module may define any of:

- ``routes: aiohttp.web.RouteTableDef`` — its API endpoints, mounted by ``create_app``;
- ``async def run(ctx, transport, stop)`` — a background loop started by ``gateway serve``
  (pollers, status trackers); it must return soon after ``stop`` is set;
- ``def add_commands(subparsers)`` — its CLI commands;
- action hooks, run inside every workflow action's transaction with an
  :class:`gateway.document_service.ActionEvent` — any of: ``action_hooks`` (a sequence of
  async callables), ``def action_hook_for(ctx)`` (returns one), ``def install(service)``
  (adds its own to ``service.action_hooks``); every ``DocumentService`` gets them;
- ``openapi_paths`` / ``openapi_schemas`` (a mapping, or a function returning one) — the
  OpenAPI description of its routes, merged into ``/api/openapi.json``.

A new flow joins by adding its module name to :data:`FLOW_MODULES`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType

FLOW_MODULES: tuple[str, ...] = (
    "gateway.flows.epgu",
    "gateway.flows.agreements",
    "gateway.flows.registry_sync",
    "gateway.flows.publishing",
    "gateway.flows.indicators",
)


def modules() -> Iterator[ModuleType]:
    for name in FLOW_MODULES:
        yield importlib.import_module(name)
