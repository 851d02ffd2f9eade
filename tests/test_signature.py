"""Our verifier accepts exactly what qstash.Receiver accepts, on raw bytes."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable

import jwt
import pytest
from qstash import Receiver
from qstash.errors import SignatureError

from zapline.errors import SignatureInvalid
from zapline.signature import verify_signature

CURRENT, NEXT = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r", "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"
URL = "https://zapline.example.com/api/inbound/uazapi/inst_1?x=1"
BODY = '{"EventType":"messages","text":"Olá 😀"}'.encode()


def sign(body: bytes = BODY, url: str = URL, key: str = CURRENT, **overrides: object) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "Upstash", "sub": url, "iat": now, "nbf": now, "exp": now + 300, "jti": "jwt_abc",
        "body": base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode(),
    }  # fmt: skip
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="HS256")


def ours(signature: str, body: bytes = BODY, url: str = URL) -> None:
    verify_signature(signature, body=body, url=url, keys=(CURRENT, NEXT))


def receiver(signature: str, body: bytes = BODY, url: str = URL) -> None:
    Receiver(current_signing_key=CURRENT, next_signing_key=NEXT).verify(
        signature=signature, body=body.decode(), url=url
    )


def test_valid_with_current_and_next_key() -> None:
    for key in (CURRENT, NEXT):
        token = sign(key=key)
        receiver(token)
        ours(token)


# Tokens are built when each case runs, never at collection: under xdist a case may run minutes
# after collection, and a "not yet valid" or "valid" token built then would be neither any more.
@pytest.mark.parametrize(
    ("case", "token", "body", "url", "reason"),
    [
        (
            "forged",
            lambda: sign(key="sig_7AttackerAttackerAttacker0000"),
            BODY,
            URL,
            "neither the current nor the next",
        ),
        ("expired", lambda: sign(exp=int(time.time()) - 1), BODY, URL, "expired"),
        ("not yet valid", lambda: sign(nbf=int(time.time()) + 60), BODY, URL, "not valid yet"),
        ("tampered body", sign, BODY.replace(b"Ol", b"OL"), URL, "body does not match"),
        ("other url", sign, BODY, URL.replace("inst_1", "inst_2"), "another URL"),
        ("wrong issuer", lambda: sign(iss="Mallory"), BODY, URL, "issuer"),
        ("no exp", lambda: sign(exp=None), BODY, URL, "exp or nbf"),
        ("garbage", lambda: "not.a.jwt", BODY, URL, "well-formed"),
        ("missing", lambda: "", BODY, URL, "missing"),
    ],
)
def test_rejections_match_the_official_receiver(
    case: str, token: Callable[[], str], body: bytes, url: str, reason: str
) -> None:
    made = token()
    with pytest.raises(SignatureError):
        receiver(made, body, url)
    with pytest.raises(SignatureInvalid, match=reason):
        ours(made, body, url)


def test_alg_none_is_refused() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    _, claims, _ = sign().split(".")
    with pytest.raises(SignatureInvalid, match="HS256"):
        ours(f"{header}.{claims}.")


def test_non_utf8_body_is_verified_as_bytes() -> None:
    raw = b"\xff\xfe binary"
    ours(sign(body=raw), raw)
