"""The spending-history domain model, shared by the advisor and the catalog's query builder.

The seed's spending API returns ``{"earning": [{"name","amount","count",...}], "spending": [...]}``. Everything in
it is untrusted: amounts may be strings, UI-only fields (``icon``, ``background``) ride along, and category names
are free text that may try to inject instructions. This module validates and normalises it, nothing more.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

MAX_CATEGORIES = 100
# share of income left unspent from which savings are suggested, by the advisor's ranker and summary and by the
# catalog's history queries alike: "earns far more than they spend" (a user who keeps 25% is not idle money;
# 0.25 put savings on most users, 28% of them labelled relevant)
SURPLUS_MIN_RATIO = 0.4
MAX_NAME_CHARS = 100
MAX_AMOUNT = 10**13  # VND; a month above ten trillion dong is not a real user
UI_ONLY_FIELDS = ("icon", "background", "color", "image", "logo")

_GROUPED = re.compile(r"^\d{1,3}([.,\s]\d{3})+$")
_PLAIN = re.compile(r"^\d+(\.\d+)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def parse_amount(value: Any) -> float:
    """Accept 45000, 45000.5, "45000", "45.000", "45,000", "45 000 đ"; reject negatives and junk."""
    if isinstance(value, bool):
        raise ValueError("amount must be a number, not a boolean")
    if isinstance(value, int):
        if (
            not -MAX_AMOUNT <= value <= MAX_AMOUNT
        ):  # float() of a 400-digit int raises OverflowError, not a 422
            raise ValueError(f"amount must be between 0 and {MAX_AMOUNT}")
        number = float(value)
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        if len(value) > 40:
            raise ValueError("amount string is longer than 40 characters")
        text = value.strip().lower()
        for suffix in ("vnd", "vnđ", "đ", "d"):
            if text.endswith(suffix):
                text = text[: -len(suffix)].strip()
                break
        if _GROUPED.fullmatch(text):
            number = float(re.sub(r"[.,\s]", "", text))
        elif _PLAIN.fullmatch(text):
            number = float(text)
        else:
            raise ValueError(f"amount {value[:40]!r} is not a number")
    else:
        raise ValueError("amount must be a number or a numeric string")
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("amount must be finite")
    if number < 0:
        raise ValueError("amount must not be negative")
    if number > MAX_AMOUNT:
        raise ValueError(f"amount must be at most {MAX_AMOUNT}")
    return number


def clean_name(value: str) -> str:
    """NFC, no control/bidi characters, collapsed whitespace. Content is still untrusted text."""
    text = unicodedata.normalize("NFC", value)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


class Category(BaseModel):
    model_config = ConfigDict(extra="ignore")  # drops icon/background and any other UI field

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    # The published schema says what the spending API really sends: numbers or numeric strings.
    amount: Annotated[
        float,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "number", "minimum": 0, "maximum": MAX_AMOUNT},
                    {"type": "string", "maxLength": 40},
                ]
            }
        ),
    ] = Field(ge=0)
    count: Annotated[
        int,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": 1_000_000},
                    {"type": "string", "maxLength": 12},
                    {"type": "null"},
                ]
            }
        ),
    ] = Field(0, ge=0, le=1_000_000)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, v: Any) -> Any:
        if not isinstance(v, str):
            raise ValueError("name must be a string")
        return clean_name(v)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, v: Any) -> float:
        return parse_amount(v)

    @field_validator("count", mode="before")
    @classmethod
    def _count(cls, v: Any) -> Any:
        if v is None:
            return 0
        if isinstance(v, bool):
            raise ValueError("count must be an integer")
        if isinstance(v, str):
            if len(v) > 12:
                raise ValueError("count string is longer than 12 characters")
            v = v.strip()
            if not v.isdigit():
                raise ValueError(f"count {v[:20]!r} is not a whole number")
            return int(v)
        if isinstance(v, float):
            if not v.is_integer():
                raise ValueError("count must be a whole number")
            return int(v)
        return v


class SpendingHistory(BaseModel):
    model_config = ConfigDict(extra="ignore")

    earning: list[Category] = Field(default_factory=list, max_length=MAX_CATEGORIES)
    spending: list[Category] = Field(default_factory=list, max_length=MAX_CATEGORIES)

    @field_validator("earning", "spending", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return [] if v is None else v

    @model_validator(mode="after")
    def _merge_duplicates(self) -> SpendingHistory:
        """One row per category name (case-insensitive, first spelling kept): a name sent twice is summed, not
        shown twice; and a side's total is capped like one amount, so 100 rows at the cap cannot make a month
        of "chi 1.000.000.000.000.000 đ"."""
        self.earning = _merged(self.earning, "earning")
        self.spending = _merged(self.spending, "spending")
        return self

    def is_empty(self) -> bool:
        return not self.earning and not self.spending

    def top_spending(self, n: int | None = None) -> list[Category]:
        """Spending categories, largest amount first (ties: more transactions first, then name)."""
        ranked = sorted(self.spending, key=lambda c: (-c.amount, -c.count, c.name))
        return ranked if n is None else ranked[:n]

    def canonical(self) -> dict[str, Any]:
        """A canonical JSON-able form (sorted, normalised) used for cache keys."""

        def rows(items: list[Category]) -> list[list[Any]]:
            return sorted([c.name, round(c.amount, 2), c.count] for c in items)

        return {"earning": rows(self.earning), "spending": rows(self.spending)}


def _merged(items: list[Category], side: str) -> list[Category]:
    rows: dict[str, Category] = {}
    for item in items:
        key = item.name.casefold()
        if key in rows:
            first = rows[key]
            rows[key] = first.model_copy(
                update={
                    "amount": first.amount + item.amount,
                    "count": min(first.count + item.count, 1_000_000),
                }
            )
        else:
            rows[key] = item
    if sum(c.amount for c in rows.values()) > MAX_AMOUNT:
        raise ValueError(f"the {side} amounts add up to more than {MAX_AMOUNT}")
    return list(rows.values()) if len(rows) < len(items) else items


def history_from_json(raw: Any, source: str) -> SpendingHistory:
    """Validate an already-parsed history document: the seed's shape ``{"earning", "spending"}``, the
    ``{"history": {...}}`` envelope (the body of ``POST /api/recommendations``) or the spending API's
    ``{"data": {...}}``. Wrong shape: ValidationFailed."""
    from pydantic import ValidationError

    from finadvisor.errors import ValidationFailed

    for envelope in ("history", "data"):  # POST /api/recommendations' body; the spending API's response
        if isinstance(raw, dict) and envelope in raw and not {"spending", "earning"} & set(raw):
            raw = raw[envelope]
    if not isinstance(raw, dict):
        raise ValidationFailed(
            f"history {source}: expected a JSON object with 'earning' and 'spending' lists "
            f'(or {{"history": {{...}}}}), got {type(raw).__name__}'
        )
    try:
        return SpendingHistory.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ValidationFailed(f"history {source}: {where}: {first['msg']}") from None


def load_history_file(path: str | os.PathLike[str]) -> SpendingHistory:
    """The one history-file loader (``recommend --history``, the catalog CLI, the nightly batch).

    Accepts the seed's shape and the ``{"history": ...}`` / ``{"data": ...}`` envelopes (UTF-8, with or without a
    BOM); any failure (missing file, not UTF-8, not
    JSON, wrong shape) is a :class:`~finadvisor.errors.ValidationFailed` that names the file and the field.
    """
    from finadvisor.errors import ValidationFailed

    target = Path(path)
    try:
        raw = json.loads(target.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ValidationFailed(f"cannot read history {target}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValidationFailed(f"cannot read history {target}: the file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"history {target} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except (ValueError, RecursionError) as exc:  # a >4,300-digit integer, nesting deeper than the parser goes
        raise ValidationFailed(f"history {target} is not usable JSON ({type(exc).__name__})") from None
    return history_from_json(raw, str(target))
