"""OpenAI's error answers: ``{"error": {"message", "type", "param", "code"}}`` with the status it uses.

The texts of the ones a client is likely to branch on (a missing or wrong key, an unknown URL, a
body that is not JSON, a rate limit, a server error) follow what the API answers; the rest are
plain sentences in the same shape.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "OpenAIError",
    "invalid",
    "invalid_json",
    "missing",
    "no_key",
    "route_not_found",
    "status_error",
    "wrong_key",
]

KEYS_PAGE = "https://platform.openai.com/account/api-keys"


class OpenAIError(Exception):
    """Answered with ``status`` as OpenAI's error object (and ``headers``)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def no_key() -> OpenAIError:
    return OpenAIError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using "
        "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if "
        "you're accessing the API from your browser and are prompted for a username. You can obtain an API key "
        f"from {KEYS_PAGE}.",
    )


def wrong_key(key: str) -> OpenAIError:
    shown = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 7 else "*" * len(key)
    return OpenAIError(
        401,
        f"Incorrect API key provided: {shown}. You can find your API key at {KEYS_PAGE}.",
        code="invalid_api_key",
    )


def route_not_found(method: str, path: str) -> OpenAIError:
    return OpenAIError(404, f"Invalid URL ({method} {path})")


def invalid_json() -> OpenAIError:
    return OpenAIError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
        "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you "
        "have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
    )


def missing(param: str) -> OpenAIError:
    return OpenAIError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def invalid(param: str | None, message: str, code: str | None = "invalid_value") -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def status_error(
    status: int, *, model: str, retry_after: float | None = None, message: str = "", code: str = ""
) -> OpenAIError:
    """The answer of a scripted fault: ``status`` as OpenAI words it (``code`` picks a 429's kind)."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        # Retry-After is whole seconds; the SDK prefers the finer retry-after-ms when both are there.
        headers["retry-after"] = str(max(0, int(-(-retry_after // 1))))
        headers["retry-after-ms"] = str(int(retry_after * 1000))
    if status == 429 and code == "insufficient_quota":
        text = "You exceeded your current quota, please check your plan and billing details."
        return OpenAIError(429, message or text, type="insufficient_quota", code=code, headers=headers)
    if status == 429:
        wait = f"{retry_after:g}s" if retry_after is not None else "1s"
        text = (
            f"Rate limit reached for {model or 'the model'} in organization org-sandbox on requests per min (RPM): "
            f"Limit 3, Used 3, Requested 1. Please try again in {wait}."
        )
        return OpenAIError(429, message or text, type="requests", code=code or "rate_limit_exceeded", headers=headers)
    if status == 503:
        text = "The engine is currently overloaded, please try again later."
        return OpenAIError(503, message or text, type="server_error", code=code or None, headers=headers)
    if status >= 500:
        text = "The server had an error while processing your request. Sorry about that!"
        return OpenAIError(status, message or text, type="server_error", code=code or None, headers=headers)
    return OpenAIError(status, message or f"Sandbox fault {status}.", code=code or None, headers=headers)
