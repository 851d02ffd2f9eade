"""Job kinds and schedules declared as data: routes, ``enqueue()`` and ``zapline schedules`` come
from here, and nothing else publishes Zapline's own work to QStash."""
