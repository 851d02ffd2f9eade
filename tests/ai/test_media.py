"""Images, voice notes and documents a lead sends: fetched through UAZAPI's /message/download, read
by the OpenAI stand-in through the official SDK, stored on the message and read by the AI reply."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from typing import Any

from tests.ai.boletos import make_linha
from tests.ai.helpers import AiLoop
from tests.support import wait_until


def _read(ai: AiLoop, conversation_id: str, field: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        first = ai.messages(conversation_id)[0]
        return first if (first.get("ai") or {}).get(field) is not None else None

    message: dict[str, Any] = wait_until(found, what=f"the message's ai.{field}")
    return message


def _extraction(linha: str, amount: float, due: date) -> dict[str, Any]:
    return {"document_type": "boleto", "summary": "Boleto da mensalidade", "amount": amount,
            "due_date": due.isoformat(), "beneficiary": "Academia Exemplo LTDA", "linha_digitavel": linha}  # fmt: skip


def test_a_boleto_whose_linha_checks_out_is_stored_as_valid(ai: AiLoop) -> None:
    due = date.today() + timedelta(days=10)
    linha = make_linha(bank="341", amount_cents=15075, due=due, free="1" * 25)
    ai.script({"match": {"endpoint": "chat.completions", "tools": False}, "times": 1,
               "answer": {"json": _extraction(linha, 150.75, due)}})  # fmt: skip
    number = ai.new_number()
    since = ai.seq()
    ai.customer_says(number, "segue o boleto", kind="image")
    conversation = ai.conversation_of(number)
    message = _read(ai, conversation["id"], "analysis")
    analysis = message["ai"]["analysis"]
    assert analysis["document_type"] == "boleto"
    assert analysis["boleto_check"]["valid"] is True, analysis
    assert analysis["boleto_check"]["amount_cents"] == 15075 and analysis["boleto_check"]["due_date"] == due.isoformat()
    vision = ai.requests(since)[0]
    assert vision["response_format"] and any(p.get("type") == "image_url" for p in vision["messages"][1]["parts"])
    ai.settle()  # then the reply, which reads what the image said
    ai.wait_sent(number, 1, "the AI's answer to the image")
    assert ai.prompts_with(since, "Academia Exemplo LTDA"), "the reply's prompt carries the extraction"


def test_a_boleto_with_a_wrong_digit_is_flagged_not_trusted(ai: AiLoop) -> None:
    due = date.today() + timedelta(days=3)
    linha = make_linha(bank="001", amount_cents=9990, due=due, free="2" * 25)
    misread = linha[:20] + str((int(linha[20]) + 1) % 10) + linha[21:]
    ai.script({"match": {"endpoint": "chat.completions", "tools": False}, "times": 1,
               "answer": {"json": _extraction(misread, 99.90, due)}})  # fmt: skip
    number = ai.new_number()
    ai.customer_says(number, "", kind="image")
    conversation = ai.conversation_of(number)
    check = _read(ai, conversation["id"], "analysis")["ai"]["analysis"]["boleto_check"]
    assert check["valid"] is False and check["problems"], check


def test_a_voice_notes_transcript_is_stored_and_reaches_the_reply(ai: AiLoop) -> None:
    ai.script({"match": {"endpoint": "audio.transcriptions"}, "times": 1,
               "answer": {"text": "Quero o plano anual com desconto de fidelidade"}})  # fmt: skip
    number = ai.new_number()
    since = ai.seq()
    ai.customer_says(number, kind="audio")
    conversation = ai.conversation_of(number)
    message = _read(ai, conversation["id"], "transcript")
    assert message["ai"]["transcript"] == "Quero o plano anual com desconto de fidelidade"
    assert len(ai.requests(since, "audio.transcriptions")) == 1
    ai.settle()
    ai.wait_sent(number, 1, "the AI's answer to the voice note")
    prompts = ai.prompts_with(since, "plano anual com desconto")
    assert prompts and prompts[0]["messages"][-1]["role"] == "user"


def test_a_pdfs_text_reaches_the_model_and_its_summary_is_stored(ai: AiLoop) -> None:
    from tests.pdfs import text_pdf

    pdf = text_pdf(["Orcamento 2026-118", "3 cadeiras de escritorio: R$ 1.290,00", "Validade: 15 dias"])
    ai.script({"match": {"contains": "Orcamento 2026-118"}, "times": 1,
               "answer": {"json": {"document_type": "invoice", "summary": "Orçamento de 3 cadeiras, R$ 1.290,00",
                                   "fields": {"total": "1290.00"}}}})  # fmt: skip
    number = ai.new_number()
    since = ai.seq()
    ai.customer_says(number, kind="document", file_name="orcamento.pdf", file_base64=base64.b64encode(pdf).decode())
    conversation = ai.conversation_of(number)
    document = _read(ai, conversation["id"], "document")["ai"]["document"]
    assert document["read"] is True and document["has_text_layer"] is True
    assert document["summary"] == "Orçamento de 3 cadeiras, R$ 1.290,00" and document["fields"] == {"total": "1290.00"}
    assert ai.prompts_with(since, "3 cadeiras de escritorio"), "the PDF's text went to the model"


def test_a_pdf_without_a_text_layer_is_said_to_be_so(ai: AiLoop) -> None:
    from tests.pdfs import image_only_pdf

    number = ai.new_number()
    since = ai.seq()
    ai.customer_says(number, kind="document", file_name="scan.pdf",
                     file_base64=base64.b64encode(image_only_pdf()).decode())  # fmt: skip
    conversation = ai.conversation_of(number)
    document = _read(ai, conversation["id"], "document")["ai"]["document"]
    assert document["read"] is False and document["has_text_layer"] is False and "text layer" in document["reason"]
    assert not [r for r in ai.requests(since) if r.get("response_format")], "a scan is not sent to the model"


def test_an_unusable_reading_is_said_so_and_the_lead_still_answered(ai: AiLoop) -> None:
    nonsense = {"document_type": "boleto", "summary": "x", "amount": -5, "due_date": None, "beneficiary": None,
                "linha_digitavel": None}  # a negative amount: the extraction's schema refuses it  # fmt: skip
    ai.script({"match": {"endpoint": "chat.completions", "tools": False}, "times": 1, "answer": {"json": nonsense}})
    number = ai.new_number()
    ai.customer_says(number, "olha isso", kind="image")
    conversation = ai.conversation_of(number)
    analysis = _read(ai, conversation["id"], "analysis")["ai"]["analysis"]
    assert analysis["read"] is False and "not valid" in analysis["reason"]
    ai.settle()
    ai.wait_sent(number, 1, "the answer to the lead anyway")
