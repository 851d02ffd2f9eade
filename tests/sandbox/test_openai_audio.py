"""The sandbox OpenAI's audio transcriptions and model list, through the official ``openai`` SDK."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from tests.sandbox.test_openai_chat import last_seq, script, seen

VOICE_NOTE = b"OggS" + bytes(range(256)) * 40  # 10,244 bytes that start like an Ogg/Opus voice note


@pytest.fixture
def ai(sandbox: dict[str, str]) -> Iterator[OpenAI]:
    client = OpenAI(base_url=sandbox["OPENAI_BASE_URL"], api_key=sandbox["OPENAI_API_KEY"], max_retries=0)
    yield client
    client.close()


@pytest.fixture
def control(sandbox: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox["OPENAI_BASE_URL"].removesuffix("/v1"), timeout=10) as http:
        http.delete("/_sandbox/openai/script")
        yield http
        http.delete("/_sandbox/openai/script")


def test_a_transcription_names_the_file_and_is_recorded(ai: OpenAI, control: httpx.Client) -> None:
    since = last_seq(control)
    done = ai.audio.transcriptions.create(file=("voz.ogg", VOICE_NOTE, "audio/ogg"), model="whisper-1", language="pt")
    assert done.text == f"Sandbox transcript of voz.ogg ({len(VOICE_NOTE)} bytes)."
    assert done.usage is not None and done.usage.type == "duration" and done.usage.seconds == 3
    (record,) = seen(control, since=since)
    assert (record["endpoint"], record["model"], record["language"], record["status"]) == (
        "audio.transcriptions", "whisper-1", "pt", 200,
    )  # fmt: skip
    assert record["file"] == {"name": "voz.ogg", "bytes": len(VOICE_NOTE), "mime": "audio/ogg"}
    assert record["response_format"] == "json"


def test_a_scripted_transcript_as_text(ai: OpenAI, control: httpx.Client) -> None:
    name = f"ptt-{uuid.uuid4().hex[:8]}.oga"
    script(control, {"match": {"endpoint": "audio.transcriptions", "contains": name},
                     "answer": {"text": "Quero marcar um horário amanhã"}})  # fmt: skip
    text = ai.audio.transcriptions.create(file=(name, VOICE_NOTE), model="whisper-1", response_format="text")
    assert text.strip() == "Quero marcar um horário amanhã"
    other = ai.audio.transcriptions.create(file=("outro.mp3", b"ID3" + VOICE_NOTE), model="gpt-4o-mini-transcribe")
    assert other.text.startswith("Sandbox transcript of outro.mp3")


def test_an_unsupported_file_or_format_is_400(ai: OpenAI, control: httpx.Client) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ai.audio.transcriptions.create(file=("notes.txt", b"hello"), model="whisper-1")
    assert caught.value.message.endswith("Invalid file format. Supported formats: " + str([
        "flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"]))  # fmt: skip
    with pytest.raises(openai.BadRequestError) as srt:
        ai.audio.transcriptions.create(file=("a.ogg", VOICE_NOTE), model="whisper-1", response_format="srt")
    assert srt.value.param == "response_format"


def test_a_transcription_can_fail_as_scripted(ai: OpenAI, control: httpx.Client) -> None:
    script(control, {"match": {"endpoint": "audio.transcriptions"}, "fault": {"status": 503}, "times": 1})
    with pytest.raises(openai.InternalServerError) as caught:
        ai.audio.transcriptions.create(file=("voz.ogg", VOICE_NOTE), model="whisper-1")
    assert caught.value.status_code == 503


def test_models_are_listed_and_retrieved(ai: OpenAI, control: httpx.Client) -> None:
    listed = {m.id: m for m in ai.models.list()}
    assert set(listed) == {"gpt-4o", "gpt-4o-mini", "gpt-4.1-mini", "whisper-1"}
    assert all(m.object == "model" and m.created > 0 and m.owned_by for m in listed.values())
    assert ai.models.retrieve("whisper-1") == listed["whisper-1"]
    with pytest.raises(openai.NotFoundError) as caught:
        ai.models.retrieve("gpt-9")
    assert caught.value.code == "model_not_found"
