"""Errors a user can fix are one line on stderr and a non-zero exit; Ctrl-C is a quiet 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.devtools.processes import alive, without_settings
from tests.support import AppProcess, SandboxProcess, Tenant, wait_until
from zapline.sandbox.redis_server import free_port


def zapline(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "zapline", *args]
    env = {**without_settings(), **(env or {})}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_serve_without_settings_names_them_without_a_traceback(tmp_path: Path) -> None:
    result = zapline(tmp_path, "serve")  # no environment, no .env: nothing to serve with
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("zapline: ") and "UPSTASH_REDIS_REST_URL: missing" in result.stderr
    assert len(result.stderr.splitlines()) <= 12  # the message, then one line per missing setting


def test_watch_against_a_stopped_app_is_one_line(tmp_path: Path) -> None:
    app_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = zapline(tmp_path, "watch", "--api-key", "zk_any", "--app-url", app_url)
    assert result.returncode == 1
    assert result.stderr.startswith(f"zapline: cannot reach {app_url}/")
    assert len(result.stderr.splitlines()) == 1


def _interrupt(cmd: list[str], env: dict[str, str], stderr: Path, ready: str) -> tuple[int, str]:
    """Start ``cmd`` as a terminal would (its own process group), wait for ``ready`` on stdout, press Ctrl-C."""
    with stderr.open("w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
    assert proc.stdout is not None
    while ready not in (line := proc.stdout.readline()):
        assert line, f"{cmd} ended before printing {ready!r}: {stderr.read_text()}"
    os.killpg(proc.pid, signal.SIGINT)  # the whole foreground group, as the terminal does
    code = proc.wait(30)
    proc.stdout.close()
    return code, stderr.read_text()


def test_ctrl_c_stops_the_sandbox_quietly(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "zapline", "sandbox", "--data-dir", str(tmp_path / "data")]
    code, stderr = _interrupt(cmd, dict(os.environ), tmp_path / "stderr", "REDIS_URL")
    assert code == 130
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert len(stderr.splitlines()) <= 8  # the parts it started, and "ready"
    pids = list(json.loads((tmp_path / "data" / "sandbox.json").read_text())["pids"].values())
    wait_until(lambda: not alive(pids), what="every child to stop")


def test_ctrl_c_stops_serve_and_watch_quietly(tmp_path: Path) -> None:
    with SandboxProcess(tmp_path / "data") as settings:
        port = free_port()
        env = {**os.environ, **settings, "APP_URL": f"http://127.0.0.1:{port}"}
        cmd = [sys.executable, "-m", "zapline", "serve", "--port", str(port)]
        code, stderr = _interrupt(cmd, env, tmp_path / "serve.stderr", "APP_URL")
        assert (code, stderr) == (130, "")

        app = AppProcess(settings, free_port())
        app.start()
        try:
            tenant = Tenant({**settings, "APP_URL": app.url})
            cmd = [sys.executable, "-m", "zapline", "watch", "--api-key", tenant.api_key, "--app-url", app.url]
            code, stderr = _interrupt(cmd, env, tmp_path / "watch.stderr", "watching")
            assert (code, stderr) == (130, "")
        finally:
            app.stop()
