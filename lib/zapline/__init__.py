"""Zapline: a serverless WhatsApp message pipeline (UAZAPI → QStash → functions → Redis → Centrifugo)."""

from __future__ import annotations

__version__ = "0.1.0"
