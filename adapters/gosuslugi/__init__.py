"""Gosuslugi (EPGU) through SMEV 3: protocol client, poller, and the stand-in business mapping.

- :class:`SmevClient` — SendRequest / SendResponse / GetRequest / GetResponse / Ack /
  GetStatus on schema 1.1 or 1.3, signed with our ЭП-ОВ, replies verified (ЭП-СМЭВ, pinned
  by :class:`Pins`; a request's sender pinned per routing mnemonic);
- :class:`RequestPoller` — GetRequest loop → ``on_request(IncomingRequest)`` → Ack;
- :mod:`adapters.gosuslugi.mapping` — the stand-in EPGU XML ↔ ``consumer_application``;
- :mod:`adapters.gosuslugi.faults` — SMEV faults → TransientError / PermanentError.
"""

from adapters.gosuslugi.adapter import GosuslugiAdapter
from adapters.gosuslugi.client import SmevClient, load_wsdl
from adapters.gosuslugi.config import SelectorConfig, SenderConfig, SmevConfig
from adapters.gosuslugi.envelope import MessageTypeSelector, Rejection, RequestStatus, new_message_id
from adapters.gosuslugi.messages import AsyncStatus, IncomingRequest, IncomingResponse, SendResult, Trust
from adapters.gosuslugi.pins import Pins
from adapters.gosuslugi.poller import RequestPoller

__all__ = [
    "AsyncStatus",
    "GosuslugiAdapter",
    "IncomingRequest",
    "IncomingResponse",
    "MessageTypeSelector",
    "Pins",
    "Rejection",
    "RequestPoller",
    "RequestStatus",
    "SelectorConfig",
    "SenderConfig",
    "SendResult",
    "SmevClient",
    "SmevConfig",
    "Trust",
    "load_wsdl",
    "new_message_id",
]
