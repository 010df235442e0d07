"""Where the nightly batch's users come from: a JSONL file, a folder of ``<user>.json``, or user IDs + the API.

    source = open_source(Path("users.jsonl"))                                  # {"user": ..., "history": {...}}
    source = open_source(Path("histories/"))                                   # histories/<user>.json
    source = open_source(Path("ids.txt"), api_url="http://pfm/v1/users/{user}/summary?month={month}",
                         service_key=os.environ["FINADVISOR_SPENDING_SERVICE_KEY"], month="2026-12")
    for item in source.items(): history = await source.load(item)

Inputs are read lazily, one user at a time, so a million-line file never sits in memory. Anything wrong with one
user (bad JSON on its line, a bad history, an unknown ID, the API failing for it) surfaces when that user is
loaded, as a :class:`~finadvisor.errors.FinadvisorError`, so it becomes that user's error record, never the
run's. A nightly job has no user's cookie: the API source sends its own service-to-service key as
``Authorization: Bearer …``; the key is never logged, written to the output or put into an error message.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx

from finadvisor.advisor.providers import check_month, get_spending_history
from finadvisor.errors import (
    AuthError,
    ConfigError,
    FinadvisorError,
    ValidationFailed,
)
from finadvisor.history import SpendingHistory, history_from_json, load_history_file

USER_ID = re.compile(r"[A-Za-z0-9_.@-]{1,128}")  # fullmatch: "alice\n" is not an id


def line_label(lineno: int) -> str:
    """The ``user`` of a record for a line with no usable id: ``<line 7>`` holds characters no id may hold, so
    it can never collide with a real user (``line-7`` could)."""
    return f"<line {lineno}>"


@dataclass(frozen=True)
class Item:
    """One user to do. ``payload`` is the history's JSON text (file inputs) or None (fetched from the API);
    ``problem`` is an input error found while reading (it becomes the user's error record)."""

    user: str
    payload: str | None = None
    problem: str | None = None


class Source(Protocol):
    name: str

    def items(self) -> Iterator[Item]: ...
    def count(self) -> int: ...
    async def load(self, item: Item) -> SpendingHistory: ...
    async def close(self) -> None: ...


def check_user(user: object) -> str:
    if not isinstance(user, str) or not USER_ID.fullmatch(user) or user.startswith("."):
        raise ValidationFailed(
            "the user ID must be 1-128 characters of letters, digits, '_', '.', '@' or '-'", param="user"
        )
    return user


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            n += bool(line.strip())
    return n


def load_payload(item: Item) -> SpendingHistory:
    if item.problem is not None:
        raise ValidationFailed(item.problem)
    if item.payload is None:
        raise ValidationFailed(f"no history for user {item.user}")
    return history_from_json(json.loads(item.payload), f"of user {item.user}")


class JsonlSource:
    """``{"user": "...", "history": {...}}`` per line (the seed's shape or the POST body's envelope)."""

    name = "jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path

    def count(self) -> int:
        return _count_lines(self.path)

    def items(self) -> Iterator[Item]:
        with self.path.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                yield self._item(lineno, raw)

    @staticmethod
    def _item(lineno: int, raw: bytes) -> Item:
        try:
            return JsonlSource._parse(lineno, raw)
        except Exception as exc:
            return Item(line_label(lineno), problem=f"line {lineno} cannot be read ({type(exc).__name__})")

    @staticmethod
    def _parse(lineno: int, raw: bytes) -> Item:
        where = line_label(lineno)  # a line we cannot attribute to a user is still reported, under its number
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # bad JSON, not UTF-8, a >4,300-digit int, deep nesting
            return Item(where, problem=f"line {lineno} is not valid JSON ({type(exc).__name__})")
        if not isinstance(record, dict):
            return Item(where, problem=f"line {lineno} is not a JSON object")
        try:
            user = check_user(record.get("user"))
        except ValidationFailed as exc:
            return Item(where, problem=f"line {lineno}: {exc.message}")
        history = record.get("history")
        if not isinstance(history, dict):
            return Item(user, problem=f"line {lineno}: 'history' must be an object with 'earning'/'spending'")
        return Item(user, payload=json.dumps(history, ensure_ascii=False))

    async def load(self, item: Item) -> SpendingHistory:
        return load_payload(item)

    async def close(self) -> None:
        return None


class FolderSource:
    """``<folder>/<user>.json``: the user ID is the file name (what the folder provider serves)."""

    name = "folder"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _paths(self) -> list[Path]:
        return sorted(p for p in self.folder.glob("*.json") if p.is_file() and not p.name.startswith("."))

    def count(self) -> int:
        return len(self._paths())

    def items(self) -> Iterator[Item]:
        for path in self._paths():
            try:
                user = check_user(path.stem)
            except ValidationFailed as exc:
                yield Item(path.name, problem=f"{path.name}: {exc.message}")
                continue
            yield Item(user, payload=str(path))  # the file is read when the user's turn comes

    async def load(self, item: Item) -> SpendingHistory:
        if item.problem is not None or item.payload is None:
            raise ValidationFailed(item.problem or f"no history file for user {item.user}")
        return await asyncio.to_thread(load_history_file, item.payload)

    async def close(self) -> None:
        return None


class ApiSource:
    """User IDs (one per line, or JSONL with a "user" field) whose histories come from the spending API.

    ``url_template`` takes ``{user}`` (URL-quoted) and optionally ``{month}``; it comes from the operator only.
    """

    name = "api"

    def __init__(
        self,
        ids: Path,
        url_template: str,
        *,
        service_key: str | None,
        month: str,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url_template.startswith(("http://", "https://")) or "{user}" not in url_template:
            raise ConfigError(
                "--spending-api-url must be an http(s) URL template with {user}, e.g. "
                "http://pfm.internal/v1/users/{user}/summary?filter_month={month}"
            )
        self.ids = ids
        self.url_template = url_template
        self.month = check_month(month)
        self.timeout_s = timeout_s
        headers = {"Accept": "application/json"}
        if service_key:
            headers["Authorization"] = f"Bearer {service_key}"
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            headers=headers,
            transport=transport,
            follow_redirects=False,
        )

    def count(self) -> int:
        return _count_lines(self.ids)

    def items(self) -> Iterator[Item]:
        with self.ids.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                text = raw.decode("utf-8", "replace").strip()
                if not text:
                    continue
                user: object = text
                if text.startswith("{"):
                    try:
                        user = json.loads(text).get("user")
                    except (ValueError, RecursionError, AttributeError):  # huge ints and deep nesting too
                        user = None
                try:
                    yield Item(check_user(user))
                except ValidationFailed as exc:
                    yield Item(line_label(lineno), problem=f"line {lineno}: {exc.message}")

    def url(self, user: str) -> str:
        return self.url_template.replace("{user}", quote(user, safe="")).replace("{month}", self.month)

    async def load(self, item: Item) -> SpendingHistory:
        if item.problem is not None:
            raise ValidationFailed(item.problem)
        return await get_spending_history(
            self._client,
            self.url(item.user),
            timeout_s=self.timeout_s,
            refused=AuthError(
                "the spending API refused the service key; check FINADVISOR_SPENDING_SERVICE_KEY"
            ),
        )

    async def close(self) -> None:
        await self._client.aclose()


def open_source(
    path: Path,
    *,
    api_url: str | None = None,
    service_key: str | None = None,
    month: str | None = None,
    timeout_s: float = 10.0,
) -> Source:
    """The source for ``--input``: with ``--spending-api-url``, a list of IDs; else a folder or a JSONL file."""
    if not path.exists():
        raise ConfigError(
            f"--input {path} does not exist; pass a JSONL file, a folder of <user>.json or a list "
            "of user IDs (with --spending-api-url)"
        )
    if api_url:
        if path.is_dir():
            raise ConfigError("with --spending-api-url, --input is a file of user IDs (one per line)")
        if month is None:
            raise ConfigError("the API source needs a month (YYYY-MM)")
        return ApiSource(path, api_url, service_key=service_key, month=month, timeout_s=timeout_s)
    if path.is_dir():
        return FolderSource(path)
    return JsonlSource(path)


def error_kind(exc: BaseException) -> str:
    """A stable, readable failure kind: the error class in snake case (``ModelOutputError`` ->
    ``model_output_error``); anything outside the project's hierarchy is an ``internal_error``."""
    if not isinstance(exc, FinadvisorError):
        return "internal_error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()
