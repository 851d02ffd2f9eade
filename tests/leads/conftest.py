"""The lead store on an empty database per test (the store tests' own sandbox and flush)."""

from __future__ import annotations

from tests.store.conftest import db, run, store_sandbox

__all__ = ["db", "run", "store_sandbox"]
