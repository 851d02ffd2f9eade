"""The one error the API layer turns into QStash's ``{"error": "..."}`` JSON answer."""

from __future__ import annotations

__all__ = ["ApiError"]


class ApiError(Exception):
    """A request QStash would refuse: ``status`` is the HTTP status, ``message`` says what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)
