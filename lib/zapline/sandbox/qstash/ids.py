"""Identifiers in QStash's shapes: ``msg_…``, ``scd_…``, ``sig_…`` (base58) and ``<ms>-<n>`` DLQ ids."""

from __future__ import annotations

import itertools
import os

__all__ = ["dlq_id", "random_id"]

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_dlq_counter = itertools.count()


def random_id(prefix: str, length: int = 27) -> str:
    number = int.from_bytes(os.urandom(length), "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 58)
        chars.append(_BASE58[digit])
    return prefix + "".join(chars)


def dlq_id(now_ms: int) -> str:
    return f"{now_ms}-{next(_dlq_counter)}"
