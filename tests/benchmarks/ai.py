"""The AI's figures on the sandbox: a reply's time from the lead's message to the answer handed to
UAZAPI (OpenAI stand-in, debounce 0), and what a cold AI job pays to import.

- ``ai_reply_ms`` p50/p99: the customer's message posted to the UAZAPI simulator → its webhook →
  relay → QStash → inbound function → ``ai-reply`` job (QStash) → OpenAI stand-in → ``send`` job
  (QStash) → the simulator records the answer (its ``time``). One conversation at a time, the
  organisation's debounce set to 0, so the figure is the pipeline's, not the debounce's. The first
  reply is reported apart (``ai_reply_first_ms``): it pays the jobs process's ``openai`` import.
- ``ai_function_import_ms``: a fresh interpreter importing what the jobs function needs to run an
  ``ai-reply`` (its routes, the handler module and ``openai``), median of 7; beside it
  ``openai_import_ms`` alone. That the inbound function imports none of it is the inbound
  benchmark's ``inbound_heavy_modules_imported`` (``tests/benchmarks/inbound.py``).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from tests.ai.helpers import AiLoop
from tests.benchmarks.inbound import report
from tests.benchmarks.stack import Stack, import_samples, percentile

REPLIES = 40
AI_JOB = "import functions.jobs; from zapline.jobs.kinds import AI_REPLY; AI_REPLY.resolve(); import openai"


def reply_latency(stack: Stack) -> None:
    loop = AiLoop(stack.app, stack.settings)
    loop.forget_script()
    loop.enable(debounce_seconds=0)
    latencies: list[float] = []
    for _ in range(REPLIES + 1):
        number = loop.new_number()
        started = time.time() * 1000
        loop.customer_says(number, "Oi! Qual o valor da mensalidade?")
        sent = loop.wait_sent(number, 1, "the AI's answer")
        latencies.append(sent[0]["time"] - started)
    report("ai_reply_first_ms", latencies.pop(0), "ms (the first: the jobs process imports openai)")
    report("ai_reply_p50_ms", statistics.median(latencies), f"ms (lead's message → answer handed to UAZAPI, {REPLIES})")
    report("ai_reply_p99_ms", percentile(latencies, 0.99), "ms")


def imports(stack: Stack) -> None:
    env = {**os.environ, **stack.settings, "APP_URL": stack.app.url}
    job: list[float] = []
    openai: list[float] = []
    for _ in range(7):
        job += import_samples(AI_JOB, env, 1)
        openai += import_samples("import openai", env, 1)
    report("ai_function_import_ms", statistics.median(job), "ms (jobs function + ai-reply handler + openai)")
    report("openai_import_ms", statistics.median(openai), "ms (openai alone)")


def main() -> None:
    os.chdir(Path(__file__).resolve().parents[2])
    with Stack() as stack:
        reply_latency(stack)
        imports(stack)


if __name__ == "__main__":
    main()
