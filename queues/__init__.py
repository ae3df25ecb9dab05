"""Document transport: one interface, RabbitMQ and embedded implementations.

Imports nothing of the gateway: the gateway maps its settings onto
:class:`~queues.config.TransportConfig`.  Module map:

* :mod:`queues.abc` — ``Message``, ``Delivery``, ``Consumer``, ``Transport``;
* :mod:`queues.rabbitmq`, :mod:`queues.embedded` — the two transports;
* :mod:`queues.outbox` — ``enqueue``/``add_messages`` in the caller's transaction, ``OutboxRelay``;
* :mod:`queues.inbox` — idempotency keys written with the effect;
* :mod:`queues.worker` — ``Handler``, ``Worker``, ``run_worker``;
* :mod:`queues.dead_letters` — list and replay; :mod:`queues.backpressure` — 429 verdicts;
* :mod:`queues.schema` — the tables (``metadata``) for the gateway's migrations.
"""

from queues.abc import Consumer, Delivery, Message, QueueKind, Transport
from queues.config import BackpressureConfig, RetryPolicy, TransportConfig
from queues.errors import AlreadyReplayed, DeadLetterNotFound, PermanentError, TransientError, UnroutableError
from queues.factory import build_transport
from queues.ids import message_id_for
from queues.schema import metadata
from queues.worker import Handler, Worker, run_worker

__all__ = [
    "AlreadyReplayed",
    "BackpressureConfig",
    "Consumer",
    "DeadLetterNotFound",
    "Delivery",
    "Handler",
    "Message",
    "PermanentError",
    "QueueKind",
    "RetryPolicy",
    "Transport",
    "TransientError",
    "TransportConfig",
    "UnroutableError",
    "Worker",
    "build_transport",
    "message_id_for",
    "metadata",
    "run_worker",
]
