"""OpenAI Responses API wire format (``POST /v1/responses``): the subset this server serves, in one place.

Why a second file beside ``protocol.py``: the Responses API has its own request, output items and stream events;
together they would push ``protocol.py`` past 600 lines. Shapes follow the official SDK's types
(``openai/types/responses``). The request is answered through the chat path: ``ResponsesRequest.to_chat`` turns it
into a ``ChatCompletionRequest`` (so every chat rule and limit applies), and the route maps the result back.

Served: ``input`` as a string or a list of messages, ``function_call`` and ``function_call_output`` items;
``instructions``; ``max_output_tokens``; ``temperature``/``top_p``; ``text.format`` (text, json_object,
json_schema); function ``tools``, ``tool_choice``, ``parallel_tool_calls``; ``stream``; ``metadata``; ``usage``.
Refused by name with a 400: ``previous_response_id``, ``conversation`` and ``store: true`` (nothing is stored: send
the whole conversation each time), ``background``, ``prompt``, ``include``, ``reasoning``, ``top_logprobs``,
``truncation: "auto"``, hosted tools (web search, file search ...), non-text content.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from finadvisor.protocol import ChatCompletionRequest


def new_item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


# ---------------------------------------------------------------------------------------------- request

_REFUSED: dict[str, str] = {
    "previous_response_id": "this server stores no responses; send the whole conversation in 'input'",
    "conversation": "this server stores no conversations; send the whole conversation in 'input'",
    "background": "background responses are not supported",
    "prompt": "saved prompts are not supported; send 'instructions' and 'input'",
    "include": "no extra output fields are offered",
    "reasoning": "this model has no reasoning settings; remove 'reasoning'",
    "top_logprobs": "logprobs are offered on /v1/chat/completions only",
}


def _refused(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    for key, why in _REFUSED.items():
        value = data.get(key)
        if value not in (None, False, [], {}, 0):
            raise ValueError(f"{key} is not supported ({why})")
    if data.get("store") is True:
        raise ValueError(
            "store: true is not supported (this server stores no responses); send store: false or omit it"
        )
    if data.get("truncation") not in (None, "disabled"):
        raise ValueError("truncation 'auto' is not supported; a prompt over the context window is a 400")
    for i, tool in enumerate(data.get("tools") or []):
        if isinstance(tool, dict) and tool.get("type") != "function":
            raise ValueError(
                f"tools[{i}]: tool type {tool.get('type')!r} is not supported (function tools only)"
            )
    return data


_TEXT_PARTS = ("input_text", "output_text", "text", "refusal")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    type: str
    text: str | None = None

    @model_validator(mode="after")
    def _text_only(self) -> ContentPart:
        if self.type not in _TEXT_PARTS or self.text is None:
            raise ValueError(f"content part type {self.type!r} is not supported (text only)")
        return self


def _text(content: str | list[ContentPart]) -> str:
    return content if isinstance(content, str) else "".join(p.text or "" for p in content)


class MessageItem(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    id: str | None = None


class FunctionCallItem(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    id: str | None = None


class FunctionCallOutputItem(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    type: Literal["function_call_output"]
    call_id: str
    output: str | list[ContentPart]
    id: str | None = None


InputItem = Annotated[MessageItem | FunctionCallItem | FunctionCallOutputItem, Field(discriminator="type")]
_ITEM_TYPES = ("message", "function_call", "function_call_output")


class FunctionTool(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    type: Literal["function"]
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolChoiceFunction(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["function"]
    name: str


class TextFormat(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(None, max_length=64)
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    description: str | None = None
    strict: bool | None = None


class TextConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    format: TextFormat | None = None


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    input: (
        Annotated[str, Field(min_length=1)] | Annotated[list[InputItem], Field(min_length=1, max_length=256)]
    )
    model: str | None = None
    instructions: str | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    metadata: dict[str, str] | None = None
    parallel_tool_calls: bool | None = None
    store: bool | None = None
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    text: TextConfig | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoiceFunction | None = None
    tools: Annotated[list[FunctionTool], Field(max_length=128)] | None = None
    top_p: float | None = Field(None, gt=0, le=1)
    user: str | None = Field(None, max_length=256)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)  # not in OpenAI's Responses API; llm sends it

    @model_validator(mode="before")
    @classmethod
    def _refuse(cls, data: Any) -> Any:
        return _refused(data)

    @field_validator("input", mode="before")
    @classmethod
    def _item_types(cls, v: Any) -> Any:
        if v in ("", []):
            raise ValueError("input is empty; send a string or a list of messages")
        if not isinstance(v, list):
            return v
        items = []
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                raise ValueError(f"input[{i}] must be an object (a message or an item)")
            if "type" not in item and "role" in item:
                item = {**item, "type": "message"}  # EasyInputMessage: {"role", "content"}
            if item.get("type") not in _ITEM_TYPES:
                raise ValueError(
                    f"input[{i}]: item type {item.get('type')!r} is not supported "
                    f"(supported: {', '.join(_ITEM_TYPES)})"
                )
            content = item.get("content")
            for part in content if isinstance(content, list) else []:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind not in _TEXT_PARTS:
                    raise ValueError(f"input[{i}]: content part type {kind!r} is not supported (text only)")
            items.append(item)
        return items

    def chat_messages(self) -> list[dict[str, Any]]:
        """The conversation as chat messages: instructions first; consecutive function calls become one assistant
        message's tool_calls (joined to the assistant text just before them); outputs become tool messages."""
        messages: list[dict[str, Any]] = []
        if self.instructions:
            messages.append({"role": "system", "content": self.instructions})
        items = [MessageItem(role="user", content=self.input)] if isinstance(self.input, str) else self.input
        for item in items:
            if isinstance(item, MessageItem):
                messages.append({"role": item.role, "content": _text(item.content)})
            elif isinstance(item, FunctionCallItem):
                call = {
                    "id": item.call_id,
                    "type": "function",
                    "function": {"name": item.name, "arguments": item.arguments},
                }
                last = messages[-1] if messages else None
                if last is not None and last["role"] == "assistant":
                    last.setdefault("tool_calls", []).append(call)
                else:
                    messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            else:
                messages.append({"role": "tool", "tool_call_id": item.call_id, "content": _text(item.output)})
        return messages

    def to_chat(self) -> ChatCompletionRequest:
        """The same request on the chat path (ValueError with the first problem, as the chat route would say it)."""
        body: dict[str, Any] = {
            "messages": self.chat_messages(),
            "model": self.model,
            "max_tokens": self.max_output_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "user": self.user,
            "parallel_tool_calls": self.parallel_tool_calls,
        }
        if self.tools:
            body["tools"] = [
                {"type": "function", "function": t.model_dump(exclude={"type"}, exclude_none=True)}
                for t in self.tools
            ]
        if isinstance(self.tool_choice, ToolChoiceFunction):
            body["tool_choice"] = {"type": "function", "function": {"name": self.tool_choice.name}}
        else:
            body["tool_choice"] = self.tool_choice
        fmt = self.text.format if self.text else None
        if fmt is not None and fmt.type == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": fmt.name or "response",
                    "schema": fmt.schema_ or {},
                    "description": fmt.description,
                    "strict": fmt.strict,
                },
            }
        elif fmt is not None:
            body["response_format"] = {"type": fmt.type}
        try:
            return ChatCompletionRequest.model_validate({k: v for k, v in body.items() if v is not None})
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = [str(p) for p in first.get("loc", ())]
            param = CHAT_TO_RESPONSES.get(loc[0], loc[0]) if loc else "input"
            message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
            raise ChatRuleError(f"{param}: {message}", param) from None


# A chat parameter's name in the Responses API (how an error from the chat rules names it).
CHAT_TO_RESPONSES = {"messages": "input", "max_tokens": "max_output_tokens", "response_format": "text.format"}


class ChatRuleError(ValueError):
    """A chat-path rule the request breaks, with the Responses parameter it concerns."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


# ---------------------------------------------------------------------------------------------- response


class OutputText(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = Field(default_factory=list)
    logprobs: list[Any] = Field(default_factory=list)


ItemStatus = Literal["in_progress", "completed", "incomplete"]


class OutputMessage(BaseModel):
    id: str = Field(default_factory=lambda: new_item_id("msg"))
    type: Literal["message"] = "message"
    status: ItemStatus = "completed"
    role: Literal["assistant"] = "assistant"
    content: list[OutputText] = Field(default_factory=list)


class OutputFunctionCall(BaseModel):
    id: str = Field(default_factory=lambda: new_item_id("fc"))
    type: Literal["function_call"] = "function_call"
    status: ItemStatus = "completed"
    call_id: str
    name: str
    arguments: str = ""


OutputItem = OutputMessage | OutputFunctionCall


class InputTokensDetails(BaseModel):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int = 0


class ResponseUsage(BaseModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails = Field(default_factory=InputTokensDetails)
    output_tokens: int
    output_tokens_details: OutputTokensDetails = Field(default_factory=OutputTokensDetails)
    total_tokens: int


class IncompleteDetails(BaseModel):
    reason: Literal["max_output_tokens", "content_filter"]


class ResponseError(BaseModel):
    code: str
    message: str


ResponseStatus = Literal["completed", "failed", "in_progress", "incomplete"]


class Response(BaseModel):
    id: str = Field(default_factory=lambda: new_item_id("resp"))
    object: Literal["response"] = "response"
    created_at: int = Field(default_factory=lambda: int(time.time()))
    status: ResponseStatus = "in_progress"
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    model: str
    output: list[OutputItem] = Field(default_factory=list)
    parallel_tool_calls: bool = True
    previous_response_id: None = None
    store: bool = False
    temperature: float | None = None
    text: dict[str, Any] = Field(default_factory=lambda: {"format": {"type": "text"}})
    tool_choice: Any = "auto"
    tools: list[dict[str, Any]] = Field(default_factory=list)
    top_p: float | None = None
    truncation: Literal["disabled"] = "disabled"
    usage: ResponseUsage | None = None
    user: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def for_request(cls, body: ResponsesRequest, model: str) -> Response:
        """The response as it starts (status in_progress), echoing the request's settings."""
        fmt = (
            body.text.format.model_dump(by_alias=True, exclude_none=True)
            if body.text and body.text.format
            else None
        )
        choice = (
            body.tool_choice.model_dump()
            if isinstance(body.tool_choice, ToolChoiceFunction)
            else body.tool_choice
        )
        return cls(
            instructions=body.instructions,
            max_output_tokens=body.max_output_tokens,
            model=model,
            parallel_tool_calls=body.parallel_tool_calls is not False,
            temperature=body.temperature,
            text={"format": fmt or {"type": "text"}},
            tool_choice=choice or "auto",
            tools=[t.model_dump(exclude_none=True) for t in body.tools or []],
            top_p=body.top_p,
            user=body.user,
            metadata=body.metadata or {},
        )


# ---------------------------------------------------------------------------------------------- stream events
# Each event is sent as ``event: <type>`` + ``data: <json>``; sequence_number counts from 0 within one response.


class ResponseEvent(BaseModel):
    """Lifecycle events: response.created, response.in_progress, response.completed, response.incomplete,
    response.failed."""

    type: str
    sequence_number: int
    response: Response


class OutputItemEvent(BaseModel):
    type: Literal["response.output_item.added", "response.output_item.done"]
    sequence_number: int
    output_index: int
    item: OutputItem


class ContentPartEvent(BaseModel):
    type: Literal["response.content_part.added", "response.content_part.done"]
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int = 0
    part: OutputText


class TextDeltaEvent(BaseModel):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int = 0
    delta: str
    logprobs: list[Any] = Field(default_factory=list)


class TextDoneEvent(BaseModel):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int = 0
    text: str
    logprobs: list[Any] = Field(default_factory=list)


class ArgumentsDeltaEvent(BaseModel):
    type: Literal["response.function_call_arguments.delta"] = "response.function_call_arguments.delta"
    sequence_number: int
    item_id: str
    output_index: int
    delta: str


class ArgumentsDoneEvent(BaseModel):
    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    sequence_number: int
    item_id: str
    output_index: int
    name: str
    arguments: str


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    sequence_number: int
    code: str | None = None
    message: str
    param: str | None = None
