"""Calling the operator API with a given key."""

from __future__ import annotations

from typing import Any

import httpx


def call(app_url: str, key: str, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", **kw.pop("headers", {})}
    return httpx.request(method, f"{app_url}/api/v1{path}", headers=headers, timeout=30, **kw)


def create_key(app_url: str, owner: str, role: str, name: str = "") -> dict[str, Any]:
    response = call(app_url, owner, "POST", "/keys", json={"role": role, "name": name})
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created
