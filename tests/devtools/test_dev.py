"""``zapline dev`` as ``make dev`` runs it: readable instructions, a sample dated now, a quiet Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from tests.devtools.processes import alive, in_use, ports, without_settings
from tests.support import wait_until


def test_dev_instructions_sample_and_ctrl_c(tmp_path: Path) -> None:
    data_dir, stderr = tmp_path / "data", tmp_path / "stderr"
    cmd = [sys.executable, "-m", "zapline", "dev", "--data-dir", str(data_dir)]
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=without_settings(), stdout=subprocess.PIPE, stderr=err, text=True,
            start_new_session=True,
        )  # fmt: skip
    assert proc.stdout is not None
    try:
        settings = json.loads(proc.stdout.readline())
        printed_at = time.time()
        wait_until(lambda: "dev.env" in stderr.read_text(), what="the instructions")
        instructions = stderr.read_text()

        webhook_url = re.search(r"curl -s -X POST '([^']+)'", instructions)
        assert webhook_url, instructions
        sample = json.loads((data_dir / "sample-webhook.json").read_text())
        sent_at = sample["message"]["messageTimestamp"] / 1000
        assert abs(sent_at - printed_at) < 60  # dated when printed, not on a fixed day
        assert "dated now" in instructions
        answer = httpx.post(webhook_url[1], json=sample, timeout=10)
        assert answer.is_success, answer.text

        log = data_dir / "zapline.log"
        wait_until(lambda: log.exists() and '"ingested"' in log.read_text(), timeout=30, what="the function's log")
        api_key = re.search(r"--api-key (\S+)", instructions)
        assert api_key
        stats = httpx.get(
            f"{settings['APP_URL']}/api/v1/stats/daily", headers={"Authorization": f"Bearer {api_key[1]}"}, timeout=10
        ).json()
        today = datetime.fromtimestamp(sent_at, ZoneInfo("America/Sao_Paulo")).date().isoformat()
        assert stats["day"] == today and stats["counters"].get("inbound") == 1  # the demo lead lands today

        text = stderr.read_text()
        assert not [line for line in text.splitlines() if line.startswith("{")]  # no JSON logs among the lines
        assert str(log) in text
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        code = proc.wait(30)
        proc.stdout.close()
    assert code == 130
    assert "Traceback" not in stderr.read_text()
    pids = list(json.loads((data_dir / "sandbox.json").read_text())["pids"].values())
    wait_until(lambda: not alive(pids), what="every child to stop")
    wait_until(lambda: not any(in_use(port) for port in ports(settings)), what="the ports to be free")
