"""No child outlives ``zapline sandbox``, however it is stopped; a stale sandbox is named in one line."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.devtools.processes import alive, children, in_use, ports
from tests.support import SandboxProcess, wait_until


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=str)
def test_children_stop_with_the_parent(tmp_path: Path, signum: signal.Signals) -> None:
    from zapline.sandbox.supervisor import SERVICES

    sandbox = SandboxProcess(tmp_path / "data")
    try:  # a failed assertion must not leave this sandbox running
        settings = sandbox.start()
        assert sandbox.proc is not None
        pids = children(sandbox.proc.pid)
        assert len(pids) == 1 + len(SERVICES)  # redis-server and every stand-in
        assert all(in_use(port) for port in ports(settings))

        sandbox.proc.send_signal(signum)  # to the parent only, as `kill PID` does
        sandbox.proc.wait(30)
        wait_until(lambda: not alive(pids), timeout=20, what=f"children {pids} to stop")
        wait_until(lambda: not any(in_use(port) for port in ports(settings)), timeout=10, what="the ports to be free")
    finally:
        sandbox.stop()


LIFELINE_PARENT = textwrap.dedent(
    """
    import subprocess, sys, threading
    from zapline.devtools.signals import Lifeline

    line = Lifeline(pdeathsig=False)  # the pipe alone, as where prctl does not exist
    spawn = dict(pass_fds=line.pass_fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    python = subprocess.Popen(line.python("http.server", "--bind", "127.0.0.1", "0"), **spawn)
    program = subprocess.Popen(line.program("/bin/sleep", "300"), **spawn)
    print(python.pid, program.pid, flush=True)
    threading.Event().wait()
    """
)


def test_without_prctl_the_lifeline_pipe_stops_children(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", LIFELINE_PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    python, program = map(int, parent.stdout.readline().split())
    grandchild = wait_until(lambda: children(program), what="the program under its wrapper")  # no exec: babysat
    pids = [python, program, *grandchild]
    assert alive(pids) == pids

    parent.kill()
    parent.wait(10)
    parent.stdout.close()
    wait_until(lambda: not alive(pids), timeout=20, what=f"{pids} to stop without their parent")


def _sandbox_command(data_dir: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "zapline", "sandbox", "--data-dir", str(data_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def test_a_running_sandbox_on_the_same_data_dir_is_named_in_one_line(tmp_path: Path) -> None:
    with SandboxProcess(tmp_path / "data") as settings:
        result = _sandbox_command(tmp_path / "data")
        assert result.returncode != 0
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert "Traceback" not in result.stderr
        state = json.loads((tmp_path / "data" / "sandbox.json").read_text())
        assert f"kill {state['pids']['supervisor']}" in line and "--data-dir" in line
        assert str(min(ports(settings))) in line
        assert all(in_use(port) for port in ports(settings))  # the running one was left alone


def test_a_saved_port_taken_by_another_program_is_named_in_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        (data_dir / "sandbox.json").write_text(json.dumps({"ports": {"upstash": port}, "pids": {"supervisor": 0}}))
        result = _sandbox_command(data_dir)
    assert result.returncode != 0
    (line,) = result.stderr.splitlines()
    assert f"{port} (upstash)" in line and "--data-dir" in line
    assert not (data_dir / "redis").exists()  # nothing was started: the check comes first
