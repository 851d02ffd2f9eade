"""Who may call a stand-in's ``/_sandbox`` endpoints: processes on this machine only."""

from __future__ import annotations

from ipaddress import ip_address

from starlette.requests import Request

__all__ = ["from_loopback"]


def from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return host in ("", "testclient", "localhost")
