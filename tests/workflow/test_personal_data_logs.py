"""Children's and parents' personal data never reaches the logs, even when a request is refused."""

from __future__ import annotations

import logging

import pytest

from tests.support.gateway import Api


async def test_no_personal_data_in_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    operator = await api.token("omsk", "gateway_operator", "operator")
    payload = await api.example("consumer_application", "omsk")
    payload["child"]["last_name"] = "Уникальнофамильев"
    payload["applicant"]["first_name"] = "Редкоимяна"
    status, _ = await api.submit(operator, "consumer_application", "omsk", payload)
    assert status == 202
    payload["number"] += "-b"
    payload["child"]["snils"] = "112-233-445 96"  # bad check digit: refused
    status, body = await api.submit(operator, "consumer_application", "omsk", payload)
    assert status == 422
    text = caplog.text + str(body)
    for secret in ("Уникальнофамильев", "Редкоимяна", "112-233-445", payload["applicant"]["snils"]):
        assert secret not in text
