"""Pure parts: message ids, back-off schedule, failure classification, backpressure verdicts."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queues.abc import Message
from queues.config import BackpressureConfig, RetryPolicy, TransportConfig
from queues.errors import PermanentError, TransientError, classify, describe
from queues.ids import message_id_for
from queues.retry import backoff, exhausted, tier_for, tiers

ident = st.text(
    st.characters(blacklist_characters="\x1f", blacklist_categories=("Cs",)), min_size=1, max_size=40
)

policies = st.builds(
    RetryPolicy,
    base_delay=st.floats(0.01, 100),
    multiplier=st.floats(1, 10),
    max_delay=st.floats(100, 100_000),
    max_attempts=st.integers(1, 30),
    jitter=st.floats(0, 0.99),
)


@given(ident, ident, ident)
def test_message_id_is_deterministic_and_a_uuid(document: str, system: str, purpose: str) -> None:
    first = message_id_for(document, system, purpose)
    assert first == message_id_for(document, system, purpose)
    assert uuid.UUID(first).version == 5


@given(ident, ident, ident, ident)
def test_message_id_separates_documents_and_targets(doc_a: str, doc_b: str, sys_a: str, sys_b: str) -> None:
    if (doc_a, sys_a) != (doc_b, sys_b):
        assert message_id_for(doc_a, sys_a) != message_id_for(doc_b, sys_b)
    assert message_id_for(doc_a, sys_a, revision=1) != message_id_for(doc_a, sys_a, revision=2)


def test_message_id_rejects_ambiguous_parts() -> None:
    with pytest.raises(ValueError):
        message_id_for("a\x1fb", "smev")
    with pytest.raises(ValueError):
        message_id_for("", "smev")


@given(policies, st.integers(1, 60), st.floats(0, 1))
def test_backoff_stays_within_its_tier(policy: RetryPolicy, attempt: int, rand: float) -> None:
    tier = tier_for(policy, attempt)
    delay = backoff(policy, attempt, lambda: rand)
    assert tier * (1 - policy.jitter) - 1e-9 <= delay <= tier
    assert policy.base_delay <= tier <= policy.max_delay


@given(policies)
def test_tiers_grow_and_are_capped(policy: RetryPolicy) -> None:
    schedule = tiers(policy)
    assert schedule[0] == policy.base_delay or schedule[0] == policy.max_delay
    assert list(schedule) == sorted(set(schedule))
    assert schedule[-1] <= policy.max_delay
    delays = [tier_for(policy, a) for a in range(1, policy.max_attempts + 3)]
    assert delays == sorted(delays)


def test_exhausted_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [exhausted(policy, n) for n in (1, 2, 3, 4)] == [False, False, True, True]


class _HttpError(Exception):
    def __init__(self, status: int):
        super().__init__(f"secret payload fragment {status}")
        self.status = status


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TransientError("x"), TransientError),
        (PermanentError("x"), PermanentError),
        (TimeoutError(), TransientError),
        (ConnectionResetError(), TransientError),
        (_HttpError(503), TransientError),
        (_HttpError(429), TransientError),
        (_HttpError(400), PermanentError),
        (_HttpError(422), PermanentError),
        (ValueError("?"), TransientError),
    ],
)
def test_classify(exc: Exception, kind: type) -> None:
    assert classify(exc) is kind


def test_describe_keeps_foreign_messages_out() -> None:
    assert describe(_HttpError(500)) == "_HttpError: HTTP 500"
    assert "secret" not in describe(ValueError("secret child name"))
    assert describe(PermanentError("схема отклонена")) == "PermanentError: схема отклонена"


def test_config_and_message_validation() -> None:
    with pytest.raises(ValueError):
        TransportConfig(systems=("smev.x",))
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.0)
    with pytest.raises(ValueError):
        Message("id", "no-dot", b"")
    with pytest.raises(ValueError):
        Message("id", "smev.x", b"", {"x-gw-attempt": "1"})
    with pytest.raises(ValueError):
        Message("id", "smev.x", b"", {"X-Death": "forged"})
    message = Message("id", "smev.application.v2", b"")
    assert (message.system, message.document_type) == ("smev", "application.v2")


bp = BackpressureConfig(
    max_outbox_rows=100, max_outbox_age_seconds=60, max_queue_depth=1000, retry_after_seconds=5
)


@given(st.integers(0, 10_000), st.floats(0, 10_000), st.integers(0, 100_000))
def test_backpressure_verdict(unsent: int, age: float, depth: int) -> None:
    from queues.backpressure import assess

    pressure = assess(bp, unsent, age, depth)
    over = unsent >= 100 or age >= 60 or depth >= 1000
    assert pressure.shed == over
    if over:
        assert bp.retry_after_seconds <= pressure.retry_after <= bp.max_retry_after_seconds
        worse = assess(bp, unsent * 2, age * 2, depth * 2)
        assert worse.retry_after >= pressure.retry_after
    else:
        assert pressure.retry_after == 0 and pressure.reason is None
