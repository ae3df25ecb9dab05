"""Typed keys of the aiohttp application's state."""

from __future__ import annotations

from aiohttp import web

from gateway.context import Context
from gateway.delivery.transport import GatewayTransport
from gateway.workflow.service import DocumentService

CTX = web.AppKey("ctx", Context)
SERVICE = web.AppKey("service", DocumentService)
TRANSPORT = web.AppKey("transport", GatewayTransport)
