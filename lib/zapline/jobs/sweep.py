"""jobs/sweep: deployment-wide housekeeping, run by the ``sweeper`` schedule every five minutes.

For now it only answers; the real sweep (requeueing work that was left behind) comes next.
"""

from __future__ import annotations

from typing import Any

from zapline.http import Delivery
from zapline.jobs.kinds import SweepJob

__all__ = ["sweep"]


async def sweep(job: SweepJob, delivery: Delivery) -> dict[str, Any]:
    return {"outcome": "swept", "requeued": 0}
