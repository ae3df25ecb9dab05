"""Gosuslugi (EPGU) through SMEV 3, the gateway's side: applications in, statuses out.

- :mod:`gateway.systems.smev` — the SMEV client from the settings (key and trust fallbacks);
- :mod:`gateway.features.epgu.oktmo` — which municipality profile an application's OKTMO names;
- :mod:`gateway.features.epgu.intake` — a received application becomes a D5 (or a refusal), then Ack;
- :mod:`gateway.features.epgu.statuses` — status messages back to EPGU, one delivery key per decision;
- :mod:`gateway.features.epgu.chain` — scenario 13: application → certificate → contract;
- :mod:`gateway.features.epgu.api`, :mod:`gateway.features.epgu.cli` — its endpoints and commands.

- :mod:`gateway.features.epgu.poller` — the SMEV poller task of ``gateway serve``.
"""

from __future__ import annotations

from gateway.context import Context
from gateway.features.epgu.api import openapi_paths, routes
from gateway.features.epgu.cli import add_commands
from gateway.features.epgu.decisions import on_action
from gateway.features.epgu.poller import run
from gateway.features.epgu.statuses import EpguHandler
from gateway.workflow.feature import Feature, OpenApiPart
from gateway.workflow.service import ActionHook


def _decisions(ctx: Context) -> ActionHook:
    return on_action


FEATURE = Feature(
    name="epgu",
    title="ЕПГУ",
    about="Заявления с ЕПГУ через СМЭВ 3 и сценарий 13: заявление → социальный сертификат → договор; статусы, отправленные на ЕПГУ.",
    routes=tuple(routes),
    openapi=lambda: OpenApiPart(paths=openapi_paths()),
    commands=add_commands,
    tasks=(run,),
    hooks=(_decisions,),
    handlers={"epgu": EpguHandler},
)
