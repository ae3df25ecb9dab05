"""Issue 7 job 6: `gateway serve --demo` (what `scripts/serve` runs) on a fresh data directory.

A real process on its embedded default (SQLite, embedded queue, emulators on loopback, a demo
PKI created on first start): the demo runs the three jobs for the five municipalities and
prints one report per municipality, with no error; the gateway keeps running and answers
on the OpenAPI address it printed; SIGTERM stops it cleanly.  Kirovsky's order is refused by
scenario 15 (no programme → code mapping in its decree): that refusal is part of the report.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.net import embedded_serve_env

REPO = Path(__file__).resolve().parents[2]
MUNICIPALITIES = ("leninogorsk", "luga", "livny", "kirovsky", "omsk")
WAIT_S = 240


@pytest.mark.timeout(WAIT_S + 60)
def test_serve_demo_runs_the_three_jobs_for_every_municipality(tmp_path: Path) -> None:
    env, api = embedded_serve_env(tmp_path / "var")
    env["GATEWAY_PUBLISHING__POLL_INTERVAL_S"] = "0.5"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--demo", "--port", str(api)], cwd=REPO,
                                env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT_S
        text = ""
        while "Демонстрация завершена" not in text:
            assert proc.poll() is None, log.read_text(encoding="utf-8")[-4000:]
            assert time.monotonic() < deadline, text[-4000:]
            time.sleep(0.5)
            text = log.read_text(encoding="utf-8")
        time.sleep(0.5)
        text = log.read_text(encoding="utf-8")
        assert "Traceback" not in text and "ОШИБОК" not in text and "ошибка —" not in text, text[-4000:]
        for municipality in MUNICIPALITIES:
            block = re.search(rf"== .* \({municipality}\) ==\n((?:  .*\n)+)", text)
            assert block, (municipality, text[-4000:])
            lines = block.group(1)
            assert "соглашение заключено" in lines and "подписи: authorized_body, provider" in lines, lines
            assert "полная сверка с Навигатором и ЕАИС ДО" in lines, lines
            assert "просроченные сроки:" in lines, lines
            if municipality == "kirovsky":
                assert "отказано правилом — programme_code_mapping_missing" in lines, lines
            else:
                assert "опубликован на budget.gov.ru" in lines and "реестровый номер EB-" in lines, lines
        assert "шаги профиля: forward_to_finance, post_on_website" in text  # Livny it. 10
        assert "ролью finance_department" in text
        assert "выполнено задач: 14; отказано правилами профиля: 1" in text, text[-1000:]
        # Still running, answering on the OpenAPI address it printed.
        (url,) = set(re.findall(r"OpenAPI: (http://\S+)", text))
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback
            assert resp.status == 200 and b'"openapi"' in resp.read()
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0, log.read_text(encoding="utf-8")[-3000:]
