"""``POST /v1/responses``: OpenAI's Responses API as a thin handler over the chat path.

The request becomes a ``ChatCompletionRequest`` (``ResponsesRequest.to_chat``), then the very ``GenerationRequest``
and ``LLMService`` call that ``/v1/chat/completions`` makes, so the API key, body limit, queue bound (503), time
budget, capability checks and metrics are the same. Only the result's shape differs: output items (an assistant
``message`` with ``output_text``, ``function_call`` items) instead of choices, ``usage`` as input/output tokens, and
when streamed, the Responses event sequence::

    response.created → response.in_progress → response.output_item.added → response.content_part.added →
    response.output_text.delta … → response.output_text.done → response.content_part.done →
    response.output_item.done → (function_call items: added → function_call_arguments.delta/done → done) →
    response.completed | response.incomplete (max_output_tokens) | error + response.failed

Nothing is stored: ``previous_response_id`` and ``store: true`` are 400s (protocol_responses.py says why).
Included into ``routes_openai.router``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from finadvisor.engines.base import Delta, Generation
from finadvisor.engines.service import LLMService
from finadvisor.errors import FinadvisorError, InvalidRequest
from finadvisor.protocol_responses import (
    CHAT_TO_RESPONSES,
    ArgumentsDeltaEvent,
    ArgumentsDoneEvent,
    ChatRuleError,
    ContentPartEvent,
    ErrorEvent,
    IncompleteDetails,
    OutputFunctionCall,
    OutputItemEvent,
    OutputMessage,
    OutputText,
    Response,
    ResponseError,
    ResponseEvent,
    ResponsesRequest,
    ResponseUsage,
    TextDeltaEvent,
    TextDoneEvent,
)
from finadvisor.server.generation import DEFAULT_MAX_TOKENS, to_generation_request

router = APIRouter()


def _finish(
    response: Response, finish_reason: str | None, prompt_tokens: int, completion_tokens: int
) -> None:
    """Status, incomplete_details and usage once generation has ended."""
    cut = finish_reason == "length"
    response.status = "incomplete" if cut else "completed"
    response.incomplete_details = IncompleteDetails(reason="max_output_tokens") if cut else None
    response.usage = ResponseUsage(
        input_tokens=prompt_tokens,
        output_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )


def _whole(response: Response, result: Generation) -> Response:
    cut = result.finish_reason == "length"
    if result.text or not result.tool_calls:
        response.output.append(
            OutputMessage(
                status="incomplete" if cut and not result.tool_calls else "completed",
                content=[OutputText(text=result.text)],
            )
        )
    for call in result.tool_calls:
        fn = call["function"]
        response.output.append(
            OutputFunctionCall(
                call_id=call["id"],
                name=fn["name"],
                arguments=fn["arguments"],
                status="incomplete" if cut else "completed",
            )
        )
    _finish(response, result.finish_reason, result.prompt_tokens, result.completion_tokens)
    return response


@router.post(
    "/responses",
    response_model=Response,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {}}},
            "description": "A response, or with stream=true the Responses API event stream",
        }
    },
)
async def create_response(body: ResponsesRequest, request: Request):  # type: ignore[no-untyped-def]
    state = request.app.state
    llm: LLMService = state.llm
    try:
        chat = body.to_chat()
    except ChatRuleError as exc:
        raise InvalidRequest(str(exc), param=exc.param) from exc
    try:
        gen_request = to_generation_request(chat, llm, state.settings.max_tokens_limit, DEFAULT_MAX_TOKENS)
    except InvalidRequest as exc:  # the chat path's words for the Responses parameters
        param = CHAT_TO_RESPONSES.get(exc.param or "", exc.param)
        raise InvalidRequest(
            exc.message.replace(exc.param or "\0", param or ""), param=param, code=exc.code
        ) from exc
    response = Response.for_request(body, body.model or llm.model_name)
    if not body.stream:
        return _whole(response, await llm.generate(gen_request))
    deltas = aiter(llm.stream(gen_request))
    first = await anext(deltas)  # refusals and context overflows are proper 4xx before the 200
    return StreamingResponse(
        ResponseStream(response).events(first, deltas),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class ResponseStream:
    """Turns the engine's deltas into the Responses event sequence, keeping the response it describes."""

    def __init__(self, response: Response) -> None:
        self.response = response
        self.sequence = 0
        self.message: OutputMessage | None = None
        self.calls: dict[int, OutputFunctionCall] = {}  # tool-call delta index -> its output item

    def _send(self, event_cls: type[BaseModel], **fields: Any) -> str:
        event = event_cls(sequence_number=self.sequence, **fields)
        self.sequence += 1
        return f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"  # type: ignore[attr-defined]

    def _lifecycle(self, kind: str) -> str:
        return self._send(ResponseEvent, type=kind, response=self.response)

    def _index(self, item: OutputMessage | OutputFunctionCall) -> int:
        return self.response.output.index(item)

    def _text(self, text: str) -> list[str]:
        out = []
        if self.message is None:
            self.message = OutputMessage(status="in_progress")
            self.response.output.append(self.message)
            index = self._index(self.message)
            out.append(
                self._send(
                    OutputItemEvent,
                    type="response.output_item.added",
                    output_index=index,
                    item=self.message.model_copy(deep=True),
                )
            )
            self.message.content.append(OutputText(text=""))
            out.append(
                self._send(
                    ContentPartEvent,
                    type="response.content_part.added",
                    item_id=self.message.id,
                    output_index=index,
                    part=OutputText(text=""),
                )
            )
        self.message.content[0].text += text
        out.append(
            self._send(
                TextDeltaEvent, item_id=self.message.id, output_index=self._index(self.message), delta=text
            )
        )
        return out

    def _close_message(self, status: str) -> list[str]:
        message = self.message
        if message is None or message.status != "in_progress":
            return []
        index, part = self._index(message), message.content[0]
        message.status = status  # type: ignore[assignment]
        return [
            self._send(TextDoneEvent, item_id=message.id, output_index=index, text=part.text),
            self._send(
                ContentPartEvent,
                type="response.content_part.done",
                item_id=message.id,
                output_index=index,
                part=part,
            ),
            self._send(OutputItemEvent, type="response.output_item.done", output_index=index, item=message),
        ]

    def _call_piece(self, piece: dict[str, Any]) -> list[str]:
        out = self._close_message("completed")
        key = int(piece.get("index", 0))
        fn = piece.get("function") or {}
        call = self.calls.get(key)
        if call is None:
            call = self.calls[key] = OutputFunctionCall(
                call_id=piece.get("id") or "", name=fn.get("name") or "", status="in_progress"
            )
            self.response.output.append(call)
            out.append(
                self._send(
                    OutputItemEvent,
                    type="response.output_item.added",
                    output_index=self._index(call),
                    item=call.model_copy(deep=True),
                )
            )
        if fn.get("arguments"):
            call.arguments += fn["arguments"]
            out.append(
                self._send(
                    ArgumentsDeltaEvent,
                    item_id=call.id,
                    output_index=self._index(call),
                    delta=fn["arguments"],
                )
            )
        return out

    def _close_calls(self, status: str) -> list[str]:
        out = []
        for call in self.calls.values():
            if call.status != "in_progress":
                continue
            call.status = status  # type: ignore[assignment]
            index = self._index(call)
            out.append(
                self._send(
                    ArgumentsDoneEvent,
                    item_id=call.id,
                    output_index=index,
                    name=call.name,
                    arguments=call.arguments,
                )
            )
            out.append(
                self._send(OutputItemEvent, type="response.output_item.done", output_index=index, item=call)
            )
        return out

    async def events(self, first: Delta, deltas: AsyncIterator[Delta]) -> AsyncIterator[str]:
        yield self._lifecycle("response.created")
        yield self._lifecycle("response.in_progress")
        try:
            current: Delta | None = first
            while current is not None:
                for piece in current.tool_calls or []:
                    for event in self._call_piece(piece):
                        yield event
                if current.text:
                    for event in self._text(current.text):
                        yield event
                if current.finish_reason is not None:
                    cut = current.finish_reason == "length"
                    if self.message is None and not self.calls:
                        for event in self._text(""):  # an empty answer is still one (empty) message
                            yield event
                    for event in self._close_message("incomplete" if cut and not self.calls else "completed"):
                        yield event
                    for event in self._close_calls("incomplete" if cut else "completed"):
                        yield event
                    _finish(
                        self.response,
                        current.finish_reason,
                        current.prompt_tokens or 0,
                        current.completion_tokens or 0,
                    )
                    yield self._lifecycle("response.incomplete" if cut else "response.completed")
                current = await anext(deltas, None)
        except FinadvisorError as exc:
            yield self._send(
                ErrorEvent, code=exc.code or exc.error_type, message=exc.message, param=exc.param
            )
            self.response.status = "failed"
            self.response.error = ResponseError(code=exc.code or exc.error_type, message=exc.message)
            yield self._lifecycle("response.failed")
        except asyncio.CancelledError:
            raise
        finally:
            await deltas.aclose()  # type: ignore[attr-defined]
