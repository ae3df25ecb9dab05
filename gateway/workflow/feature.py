"""What a feature (one job users run the gateway for) gives the application, as one typed value.

Each package in ``gateway.features`` exports ``FEATURE: Feature``; the composition root
(``gateway.app.features``) is the only place that lists them.  A feature brings its HTTP
routes with their OpenAPI part, its CLI commands, its background tasks, the workflow hooks
it needs inside every action's transaction, and the consumer class of a system whose
messages it records itself.  The workflow receives the hooks; it never imports a feature.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.context import Context
from gateway.delivery.transport import GatewayTransport, HandlerFactory
from gateway.workflow.service import ActionHook, DocumentService


@dataclass
class Runtime:
    """What a background task or a command works with: the context, the one document service
    (with every feature's hooks) and, in ``gateway serve``, the transport."""

    ctx: Context
    service: DocumentService
    transport: GatewayTransport | None = None

    def wake(self) -> None:
        """Publish committed outbox rows now rather than at the relay's next poll."""
        if self.transport is not None:
            self.transport.wake()


BackgroundTask = Callable[[Runtime, asyncio.Event], Coroutine[Any, Any, None]]
HookFactory = Callable[[Context], ActionHook]
CommandInstaller = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


@dataclass(frozen=True)
class OpenApiPart:
    """A feature's share of ``/api/openapi.json``: its paths and the schemas they refer to."""

    paths: Mapping[str, Any] = field(default_factory=dict)
    schemas: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Feature:
    """One job of the gateway, as the application mounts it.

    ``tasks`` run beside ``gateway serve`` and return soon after the stop event is set;
    ``hooks`` are built once per service from the context and run inside every workflow
    action's transaction, after its writes; ``handlers`` replace the plain consumer of a
    system (by its profile name).  ``title`` names the feature's group of operations in
    ``/api/openapi.json`` (its tag, in Russian) and ``about`` says what the group is for.
    """

    name: str
    title: str = ""
    about: str = ""
    routes: Sequence[web.AbstractRouteDef] = ()
    openapi: Callable[[], OpenApiPart] | None = None
    commands: CommandInstaller | None = None
    tasks: Sequence[BackgroundTask] = ()
    hooks: Sequence[HookFactory] = ()
    handlers: Mapping[str, HandlerFactory] = field(default_factory=dict)
