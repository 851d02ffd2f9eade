"""``Upstash-Signature``: an HS256 JWT over the exact target URL and the SHA-256 of the body.

The key is the ``sig_…`` string itself (UTF-8 bytes). ``iat = nbf = floor(real now)`` and
``exp = iat + 300``: ``qstash.Receiver`` ignores its ``clock_tolerance``, so a token dated even one
second in the future would fail. Rotation follows QStash: current := next, next := a new key.

The token is assembled with ``hmac`` directly rather than through PyJWT: one is made per delivery
and PyJWT's key checks cost more than the signature itself. The test-suite verifies every
delivery with ``qstash.Receiver`` (PyJWT), so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

from zapline.sandbox.qstash.ids import random_id

__all__ = ["Signer", "body_digest"]

TOKEN_LIFETIME_S = 300


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


_HEADER = _b64url(b'{"alg":"HS256","typ":"JWT"}')


def body_digest(body: bytes) -> str:
    """base64url of SHA-256(body), ``=`` padding kept as QStash documents it."""
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()


class Signer:
    def __init__(self, current: str, next_key: str) -> None:
        self.current = current
        self.next = next_key

    def sign(self, url: str, body: bytes) -> str:
        now = int(time.time())
        claims = {
            "iss": "Upstash",
            "sub": url,
            "exp": now + TOKEN_LIFETIME_S,
            "nbf": now,
            "iat": now,
            "jti": "jwt_" + os.urandom(12).hex(),
            "body": body_digest(body),
        }
        signing_input = _HEADER + b"." + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self.current.encode(), signing_input, hashlib.sha256).digest()
        return (signing_input + b"." + _b64url(signature)).decode()

    def rotate(self) -> None:
        self.current, self.next = self.next, random_id("sig_", 28)
