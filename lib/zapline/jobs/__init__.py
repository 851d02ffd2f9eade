"""Deferred work QStash calls back: the declared kinds (``kinds``), their handlers, and the jobs
function's routes (``routes``, built from the declarations)."""
