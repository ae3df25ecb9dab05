"""Choosing the transport: RabbitMQ when a URL is configured, else the embedded queue."""

from __future__ import annotations

import os

from sqlalchemy.ext.asyncio import AsyncEngine

from queues.abc import Transport
from queues.config import TransportConfig


def build_transport(config: TransportConfig, engine: AsyncEngine, amqp_url: str | None) -> Transport:
    """RabbitMQ if ``amqp_url`` is set (``GATEWAY_AMQP_URL``), else the embedded queue on ``engine``."""
    if amqp_url:
        from queues.rabbitmq import RabbitTransport

        return RabbitTransport(amqp_url, config, connection_name=f"gateway-{os.getpid()}")
    from queues.embedded import EmbeddedTransport

    return EmbeddedTransport(engine, config)
