"""The ingress function (relay mode): UAZAPI → here → QStash, for when the QStash token must not
be pasted into UAZAPI.

It only checks the origin (a known instance key, and the body's token) and hands the raw body to
QStash for the inbound function, answering in milliseconds. It never answers 2xx for a webhook
QStash did not accept, so UAZAPI's own retries cover a QStash outage.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zapline import qstash
from zapline.errors import BadRequest, NotFound, PermanentError, Unauthorized, ZaplineError
from zapline.http import error_response
from zapline.logs import get_logger
from zapline.store.registry import check_instance, parse_instance_key

__all__ = ["routes"]

log = get_logger("zapline.ingress")


async def relay_uazapi(request: Request) -> Response:
    instance_key = request.path_params["instance_key"]
    body = await request.body()
    try:
        try:
            ref = parse_instance_key(instance_key)
            token = json.loads(body).get("token")
        except PermanentError:
            raise NotFound("unknown instance key") from None
        except (ValueError, AttributeError):
            raise BadRequest("body is not a JSON object") from None
        try:
            await check_instance(ref, token if isinstance(token, str) else "")
        except PermanentError as exc:
            raise (
                NotFound("unknown instance key") if "no instance" in exc.message else Unauthorized(exc.message)
            ) from None
        message_id = await qstash.publish(f"/api/inbound/uazapi/{instance_key}", body)
    except ZaplineError as exc:
        log.warning("relay refused", http_status=exc.status_code, error=exc.message)
        return error_response(exc)
    log.info("relayed", org=ref.org_id, instance=ref.instance_id, qstash_message_id=message_id)
    return JSONResponse({"status": "ok", "messageId": message_id})


routes = [Route("/api/ingress/uazapi/{instance_key}", relay_uazapi, methods=["POST"])]
