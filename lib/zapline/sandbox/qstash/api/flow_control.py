"""Flow-control keys: info, list, global parallelism, pause/resume, pin/unpin, reset of the rate."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zapline.sandbox.qstash.api.common import empty, engine, reply
from zapline.sandbox.qstash.engine import Engine
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.flow import FlowKey
from zapline.sandbox.qstash.spec import MAX_PERIOD_S, parse_bool
from zapline.sandbox.qstash.store import FLOW, dumps

__all__ = ["act", "get", "global_parallelism", "list_all"]


def _info(eng: Engine, fk: FlowKey) -> dict[str, object]:
    waiting = sum(1 for m in fk.waitlist if eng.live(m))
    return fk.api(eng.clock.now(), waiting)


def _key(eng: Engine, request: Request) -> FlowKey:
    key = request.path_params["key"]
    fk = eng.flows.get(key)
    if fk is None:
        raise ApiError(404, f"flow control key {key} not found")
    return fk


async def get(request: Request) -> Response:
    eng = engine(request)
    return reply(_info(eng, _key(eng, request)))


async def list_all(request: Request) -> Response:
    eng = engine(request)
    search = request.query_params.get("search", "")
    return reply([_info(eng, fk) for key, fk in sorted(eng.flows.items()) if search in key])


async def global_parallelism(request: Request) -> Response:
    eng = engine(request)
    return reply({"parallelismMax": eng.options.global_parallelism, "parallelismCount": len(eng.inflight)})


def _positive(request: Request, name: str, high: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1 or (high is not None and int(raw) > high):
        raise ApiError(400, f"invalid {name} {raw!r}: a positive integer" + (f" up to {high}" if high else ""))
    return int(raw)


async def act(request: Request) -> Response:
    eng = engine(request)
    fk = _key(eng, request)
    action = request.path_params["action"]
    now = eng.clock.now()
    if action in ("pause", "resume"):
        fk.paused = action == "pause"
    elif action == "pin":
        fk.pin(
            _positive(request, "parallelism"),
            _positive(request, "rate"),
            _positive(request, "period", MAX_PERIOD_S),
            now,
        )
    elif action == "unpin":
        if parse_bool(request.query_params.get("parallelism", "false"), "parallelism"):
            fk.pinned_parallelism = False
        if parse_bool(request.query_params.get("rate", "false"), "rate"):
            fk.pinned_rate = False
    elif action in ("resetRate", "reset"):
        fk.reset_rate(now)
    else:
        raise ApiError(404, f"unknown flow control action {action!r}: pause, resume, pin, unpin, resetRate or reset")
    await eng.writer.write(("HSET", FLOW, fk.key, dumps(fk.to_record())))
    eng.pump_flow(fk)
    return empty()
