"""Gosuslugi (EPGU) through SMEV 3, the gateway's side: applications in, statuses out.

- :mod:`gateway.epgu.smev` — the SMEV client from the settings (key and trust fallbacks);
- :mod:`gateway.epgu.oktmo` — which municipality profile an application's OKTMO names;
- :mod:`gateway.epgu.intake` — a received application becomes a D5 (or a refusal), then Ack;
- :mod:`gateway.epgu.statuses` — status messages back to EPGU, one delivery key per decision;
- :mod:`gateway.epgu.chain` — scenario 13: application → certificate → contract;
- :mod:`gateway.epgu.api`, :mod:`gateway.epgu.cli` — its endpoints and commands.

The flow module :mod:`gateway.flows.epgu` wires them into ``gateway serve``.
"""
