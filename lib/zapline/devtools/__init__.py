"""Developer tooling: the ``zapline`` command, ``zapline dev``, the local router, ``zapline watch``.

Never deployed, and never imported by the request path (functions/ and what they import).
"""
