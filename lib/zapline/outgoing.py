"""Every outgoing HTTP call (QStash, Centrifugo, UAZAPI, OpenAI) and the one rule that classifies
its failures, so a job knows whether QStash should retry:

- no answer (unreachable, timed out) or 408 / 425 / 429 / 5xx → the service's ``TransientError``
  (503 to QStash, which retries — after ``Retry-After`` when the service sent one);
- any other 4xx → the service's ``PermanentError`` (our request is wrong: a retry would fail the
  same way), unless the service has none (Centrifugo: a refused publication is retried).
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from zapline.clients import http_client
from zapline.errors import PermanentError, TransientError

__all__ = ["detail_of", "failure", "request", "retry_after"]

RETRYABLE_STATUSES = frozenset({408, 425, 429})


def retry_after(value: str | None) -> int | None:
    """``Retry-After`` as whole seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return int(value)
    try:
        return max(0, int(parsedate_to_datetime(value).timestamp() - time.time()))
    except (TypeError, ValueError):
        return None


def detail_of(response: httpx.Response) -> str:
    """What the service said went wrong: its JSON ``error``/``message``, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # OpenAI: {"error": {"message", "type", "code"}}
            error = error.get("message")
        found = error or body.get("message")
        if found:
            return str(found)[:300]
    return response.text[:200].replace("\n", " ")


async def request(
    service: str,
    method: str,
    url: str,
    *,
    unavailable: type[TransientError],
    rejected: type[PermanentError] | None,
    context: dict[str, Any] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One call with the shared client; a 2xx/3xx response, or the classified error."""
    context = context or {}
    try:
        response = await http_client().request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise unavailable(f"{service} timed out", **context) from None
    except httpx.HTTPError as exc:
        raise unavailable(f"{service} unreachable: {type(exc).__name__}", **context) from None
    if response.status_code < 400:
        return response
    raise failure(service, response.status_code, detail_of(response), response.headers.get("retry-after"),
                  unavailable=unavailable, rejected=rejected, context=context)  # fmt: skip


def failure(
    service: str,
    status: int,
    detail: str,
    retry_after_header: str | None,
    *,
    unavailable: type[TransientError],
    rejected: type[PermanentError] | None,
    context: dict[str, Any] | None = None,
) -> TransientError | PermanentError:
    """The error an HTTP status ≥ 400 from ``service`` is (see the module's rule)."""
    context = context or {}
    detail = detail or "no detail"
    if status in RETRYABLE_STATUSES or status >= 500 or rejected is None:
        return unavailable(f"{service} answered HTTP {status}: {detail}", retry_after=retry_after(retry_after_header),
                           status=status, **context)  # fmt: skip
    return rejected(f"{service} refused the request (HTTP {status}): {detail}", status=status, **context)
