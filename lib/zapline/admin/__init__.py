"""The operator API (``/api/v1``, per-organisation API keys) and dashboard."""
