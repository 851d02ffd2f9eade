"""Job payloads: what Zapline publishes to QStash for its own functions to receive."""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from zapline.errors import InvalidPayload

__all__ = ["FollowupJob", "NpsJob", "SendJob", "parse_job"]


class _Job(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    org_id: str


class SendJob(_Job):
    message_id: str


class FollowupJob(_Job):
    conversation_id: str
    epoch: int
    step: int


class NpsJob(_Job):
    conversation_id: str
    action: Literal["send", "expire"]


J = TypeVar("J", bound=_Job)


def parse_job(model: type[J], body: bytes) -> J:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidPayload.from_validation(model.__name__, exc) from None
