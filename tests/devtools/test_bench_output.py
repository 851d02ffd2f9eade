"""``make bench`` prints its figures, not the app's logs around them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.devtools.processes import without_settings

STACK_UNDER_LOAD = textwrap.dedent(
    """
    import httpx
    from tests.benchmarks.inbound import signed_requests
    from tests.benchmarks.stack import Stack

    with Stack() as stack:
        for url, raw, headers in signed_requests(stack, 20, first_contact=5511900000000):
            assert httpx.post(url, content=raw, headers=headers, timeout=30).is_success
        print("inbound: 20 messages")
    """
)


def test_the_stack_keeps_app_logs_out_of_the_figures() -> None:
    result = subprocess.run(
        [sys.executable, "-c", STACK_UNDER_LOAD], env=without_settings(), capture_output=True, text=True, timeout=90,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "inbound: 20 messages\n"
    assert '"ingested"' not in result.stderr  # 20 messages: no INFO line per message
    assert len(result.stderr.splitlines()) <= 10, result.stderr  # the sandbox saying what it started
