"""OpenAI wire format, in one place (fields in the order of the OpenAI API reference).

Routers parse requests into these models and serialise these models back; nothing else in the code base
knows the JSON shape of the OpenAI API.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

# ---------------------------------------------------------------------------------------------- errors


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def documented(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` entries: every listed status answers with the ErrorResponse shape (for any router,
    the server's or the advisor's)."""
    return {
        status: {"model": ErrorResponse, "description": "Error (OpenAI error shape)"} for status in statuses
    }


# ---------------------------------------------------------------------------------------------- chat


class FunctionCall(BaseModel):
    model_config = ConfigDict(strict=True)

    name: str
    arguments: str  # JSON text, as OpenAI sends it


class ToolCall(BaseModel):
    model_config = ConfigDict(strict=True)

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


# Requests validate strictly: OpenAI rejects `"temperature": false` or `"max_tokens": "5"`, and so do we.
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: Annotated[list[ToolCall], Field(min_length=1, max_length=64)] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _content_rules(self) -> ChatMessage:
        # OpenAI: content is required, except for an assistant message that carries tool calls.
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError(
                f"content is required for a {self.role!r} message"
                + (" without tool_calls" if self.role == "assistant" else "")
            )
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages may carry tool_calls")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a 'tool' message needs the tool_call_id it answers")
        return self

    def text(self) -> str:
        """Content as plain text: OpenAI 'content parts' of type text are concatenated."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        parts = []
        for part in self.content:
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ValueError("only text content parts are supported")
            parts.append(part["text"])
        return "".join(parts)

    def to_engine(self) -> dict[str, Any]:
        """The message as engines take it: developer -> system, text content, tool fields kept."""
        out: dict[str, Any] = {
            "role": "system" if self.role == "developer" else self.role,
            "content": self.text(),
        }
        if self.tool_calls:
            out["content"] = self.text() if self.content is not None else None
            out["tool_calls"] = [c.model_dump() for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(strict=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(BaseModel):
    model_config = ConfigDict(strict=True)

    name: str


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["function"]
    function: NamedFunction


class JsonSchemaSpec(BaseModel):
    name: str = Field("response", max_length=64)
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None

    model_config = ConfigDict(populate_by_name=True, strict=True)


class ResponseFormat(BaseModel):
    model_config = ConfigDict(strict=True)

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | None = None

    @model_validator(mode="after")
    def _schema_required(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format.type 'json_schema' requires a 'json_schema' object")
        return self


class StreamOptions(BaseModel):
    model_config = ConfigDict(strict=True)

    include_usage: bool = False


StopText = Annotated[str, Field(min_length=1, max_length=64)]
LogitBias = dict[str, Annotated[float, Field(ge=-100, le=100)]]

# OpenAI parameters this server cannot honour: refused by name rather than ignored.
_REFUSED = {
    "functions": "use 'tools'",
    "function_call": "use 'tool_choice'",
    "audio": "text output only",
    "modalities": "text output only",
    "prediction": "predicted outputs are not supported",
    "web_search_options": "web search is not supported",
    "best_of": "best_of > 1 is not supported",
    "suffix": "suffix (insertion) is not supported",
}


def _refuse_known(data: Any) -> Any:
    if isinstance(data, dict):
        for key, why in _REFUSED.items():
            value = data.get(key)
            if (
                value is None
                or (key == "best_of" and value == 1)
                or (key == "modalities" and value == ["text"])
            ):
                continue
            raise ValueError(f"{key} is not supported ({why})")
    return data


def _check_logit_bias(bias: dict[str, float] | None) -> dict[str, float] | None:
    for key in bias or {}:
        if not key.isdigit():
            raise ValueError("logit_bias keys must be token ids (integers as strings)")
    return bias


class _GenerationParams(BaseModel):
    """Checks shared by the chat and the legacy completions requests (their fields stay in OpenAI's order)."""

    @model_validator(mode="before")
    @classmethod
    def _refuse(cls, data: Any) -> Any:
        return _refuse_known(data)

    @field_validator("logit_bias", check_fields=False)
    @classmethod
    def _bias(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        return _check_logit_bias(v)

    @field_validator("stop", check_fields=False)
    @classmethod
    def _stop_list(cls, v: str | list[str] | None) -> list[str] | None:
        return [v] if isinstance(v, str) else v


class ChatCompletionRequest(_GenerationParams):
    model_config = ConfigDict(extra="ignore", strict=True)

    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=256)]
    model: str | None = None
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: LogitBias | None = None
    logprobs: bool = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=1)
    parallel_tool_calls: bool | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    response_format: ResponseFormat | None = None
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    stop: StopText | Annotated[list[StopText], Field(max_length=4)] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    tools: Annotated[list[Tool], Field(min_length=1, max_length=128)] | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    top_p: float | None = Field(None, gt=0, le=1)
    user: str | None = Field(None, max_length=256)
    # Extension (as in vLLM and llama-server): keep decoding past end-of-sequence, for benchmarks.
    ignore_eos: bool = False

    @model_validator(mode="after")
    def _tool_rules(self) -> ChatCompletionRequest:
        if self.top_logprobs is not None and not self.logprobs:
            raise ValueError("top_logprobs requires logprobs: true")
        names = [t.function.name for t in self.tools or []]
        if len(set(names)) != len(names):
            raise ValueError("tools: function names must be unique")
        if self.tool_choice is not None and self.tool_choice != "none" and not self.tools:
            raise ValueError("tool_choice is only allowed when tools are specified")
        if isinstance(self.tool_choice, NamedToolChoice) and self.tool_choice.function.name not in names:
            raise ValueError(f"tool_choice names {self.tool_choice.function.name!r}, which is not in tools")
        forced = self.tool_choice == "required" or isinstance(self.tool_choice, NamedToolChoice)
        if forced and self.response_format is not None and self.response_format.type != "text":
            raise ValueError("response_format cannot be combined with a required or named tool_choice")
        return self

    def token_budget(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def tool_choice_value(self) -> str | dict[str, Any] | None:
        if isinstance(self.tool_choice, NamedToolChoice):
            return self.tool_choice.model_dump()
        return self.tool_choice


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


FinishReason = Literal["stop", "length", "content_filter", "tool_calls"]


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None = None


class ChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None

    @model_serializer(mode="wrap")
    def _omit_no_calls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("tool_calls") is None:
            data.pop("tool_calls", None)  # OpenAI leaves the key out when there are no calls
        return data


class Choice(BaseModel):
    index: int = 0
    message: ChoiceMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: FinishReason | None = None


def new_id(prefix: str = "chatcmpl") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


class ChatCompletion(BaseModel):
    id: str = Field(default_factory=new_id)
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage


class ToolCallDelta(BaseModel):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: dict[str, str] | None = None


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: DeltaMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


# ---------------------------------------------------------------------------------------------- completions


class CompletionRequest(_GenerationParams):
    """Legacy ``/v1/completions``: raw text in, text out (no chat template)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    model: str | None = None
    prompt: (
        Annotated[str, Field(max_length=200_000)] | Annotated[list[str], Field(min_length=1, max_length=16)]
    )
    echo: bool = False
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: LogitBias | None = None
    logprobs: int | None = Field(None, ge=0, le=5)
    max_tokens: int = Field(16, ge=1)
    n: int = Field(1, ge=1, le=1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    stop: StopText | Annotated[list[StopText], Field(max_length=4)] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    user: str | None = Field(None, max_length=256)
    ignore_eos: bool = False  # extension, as on chat: for benchmarks

    @field_validator("echo")
    @classmethod
    def _no_echo(cls, v: bool) -> bool:
        if v:
            raise ValueError("echo: true is not supported")
        return v

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else self.prompt


class CompletionLogprobs(BaseModel):
    tokens: list[str] = Field(default_factory=list)
    token_logprobs: list[float] = Field(default_factory=list)
    top_logprobs: list[dict[str, float]] = Field(default_factory=list)
    text_offset: list[int] = Field(default_factory=list)


class CompletionChoice(BaseModel):
    text: str
    index: int = 0
    logprobs: CompletionLogprobs | None = None
    finish_reason: FinishReason | None = None


class Completion(BaseModel):
    id: str = Field(default_factory=lambda: new_id("cmpl"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


# ---------------------------------------------------------------------------------------------- models


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "finadvisor"
    parent: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# ---------------------------------------------------------------------------------------------- embeddings


_INPUT_FORMS = (
    "input must be a string, a list of strings, a list of token ids (integers) or a list of lists of "
    "token ids"
)


def check_texts(items: list[str]) -> list[str]:
    for i, text in enumerate(items):
        if not text.strip():
            raise ValueError(f"input[{i}] is empty")
        if len(text) > 32_000:
            raise ValueError(f"input[{i}] is longer than 32000 characters")
    return items


class EmbeddingRequest(BaseModel):
    """Every input form OpenAI takes. Token ids are OpenAI's own (cl100k_base), as LangChain's
    ``OpenAIEmbeddings`` and other clients send them by default; the server decodes them to text."""

    model_config = ConfigDict(extra="ignore", strict=True)

    input: str | list[str] | list[int] | list[list[int]]
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    # Not in OpenAI's API: e5-style embedders distinguish queries from passages.
    input_type: Literal["query", "passage"] = "query"

    @field_validator("input", mode="before")
    @classmethod
    def _input_form(cls, v: Any) -> Any:
        if isinstance(v, str):
            if not v.strip():
                raise ValueError("input is empty; send the text to embed")
            return v
        if not isinstance(v, list):
            raise ValueError(_INPUT_FORMS)
        if not v:
            raise ValueError("input is an empty list; send at least one string or token id")
        if len(v) > 2048:
            raise ValueError("input has more than 2048 items; split the request")
        if all(isinstance(x, str) for x in v) or all(type(x) is int for x in v):
            return v
        if all(isinstance(x, list) and all(type(t) is int for t in x) for x in v):
            if any(not x for x in v):
                raise ValueError("input has an empty list of token ids")
            return v
        raise ValueError(_INPUT_FORMS)

    @field_validator("input")
    @classmethod
    def _token_ids_in_range(cls, v: Any) -> Any:
        rows = v if v and isinstance(v[0], list) else [v] if v and isinstance(v[0], int) else []
        for row in rows:
            if len(row) > 8192:
                raise ValueError("input has more than 8192 token ids in one item")
            if any(t < 0 for t in row):
                raise ValueError("token ids must not be negative")
        return v

    def form(self) -> str:
        """The input form, as an error names it: "a string", "strings", "token ids", "arrays of token ids"."""
        if isinstance(self.input, str):
            return "a string"
        first = self.input[0]
        return (
            "strings"
            if isinstance(first, str)
            else "token ids"
            if isinstance(first, int)
            else "arrays of token ids"
        )

    def token_rows(self) -> list[list[int]] | None:
        """The token-id rows to decode, or None for text input."""
        form = self.form()
        if form == "token ids":
            return [self.input]  # type: ignore[list-item]
        return self.input if form == "arrays of token ids" else None  # type: ignore[return-value]

    def texts(self) -> list[str]:
        return check_texts([self.input] if isinstance(self.input, str) else self.input)  # type: ignore[arg-type]


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    embedding: list[float] | str  # base64 of little-endian float32 when encoding_format is "base64"
    index: int


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


def openai_base_url(url: str, *, what: str = "upstream URL") -> str:
    """The one rule for an OpenAI-compatible base URL (upstream engine, embedder): http(s) only, no trailing
    slash, ``/v1`` appended when missing, so ``http://vllm:8000`` and ``http://vllm:8000/v1/`` mean the same."""
    from finadvisor.errors import ConfigError

    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{what} must start with http:// or https://, got {url!r}")
    base = url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"
