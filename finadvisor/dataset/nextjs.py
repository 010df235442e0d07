"""Next.js ``_next/data/<build>/<page>.json`` documents: FAQ articles and feature pages (seed section 6.1).

Two shapes, both under ``pageProps``:

- FAQ: ``data.articles[]`` with ``title`` and ``description_text`` (HTML allowed);
- features: ``items[]``, each with ``__component`` and some of ``title``/``description``, ``left_items``,
  ``right_items``, ``items``, ``merchants[].merchant``, ``banks[].bank`` (the seed's ``get_features``).

The seed wrapped all of it in ``try/except Exception: continue``. Here every missing key, wrong type or unknown
component is skipped *and counted* under a reason, so the report shows what the site's schema drift cost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from finadvisor.dataset.document import Document
from finadvisor.dataset.items import QAItem, Skips
from finadvisor.errors import ConfigError

# Components whose own title/description is a pair (as in the seed).
PAIR_COMPONENTS = {"shared.promote-points", "shared.bank-list"}
NESTED_LISTS = ("left_items", "right_items", "items")
DEFAULT_BANK_ANSWER = (
    "Bạn có thể liên kết tài khoản hoặc thẻ của {bank} với ví để nạp tiền, rút tiền và thanh toán."
)


def load_json(doc: Document) -> Any:
    try:
        return json.loads(doc.read())
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{doc.origin}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc


class NextJsSource:
    name = "nextjs"

    def __init__(self, bank_answer: str = DEFAULT_BANK_ANSWER) -> None:
        self.bank_answer = bank_answer

    def parse(self, doc: Document, skips: Skips) -> Iterator[QAItem]:
        data = load_json(doc)
        props = data.get("pageProps") if isinstance(data, dict) else None
        if not isinstance(props, dict):
            raise ConfigError(
                f"{doc.origin}: not Next.js data JSON (no 'pageProps' object); "
                "pass --source-type to use another parser"
            )
        found = False
        holder = props.get("data")
        if isinstance(holder, dict) and "articles" in holder:
            found = True
            yield from self._articles(doc.origin, holder["articles"], skips)
        if "items" in props:
            found = True
            yield from self._features(doc.origin, props["items"], skips)
        if not found:
            skips["nextjs:no_articles_or_items"] += 1

    def _articles(self, origin: str, articles: Any, skips: Skips) -> Iterator[QAItem]:
        if not isinstance(articles, list):
            skips["nextjs:articles_not_a_list"] += 1
            return
        for i, article in enumerate(articles):
            if not isinstance(article, dict):
                skips["nextjs:not_an_object"] += 1
                continue
            title = _text(article, "title", skips)
            answer = _text(article, "description_text", skips, fallback="description")
            if title is None or answer is None:
                continue
            category = article.get("category")
            cat = category.get("slug") if isinstance(category, dict) else category
            yield QAItem(
                title,
                answer,
                origin,
                "nextjs",
                "faq.article",
                cat if isinstance(cat, str) else None,
                f"articles[{i}]",
            )

    def _features(self, origin: str, items: Any, skips: Skips) -> Iterator[QAItem]:
        if not isinstance(items, list):
            skips["nextjs:items_not_a_list"] += 1
            return
        for i, block in enumerate(items):
            if not isinstance(block, dict):
                skips["nextjs:not_an_object"] += 1
                continue
            component = block.get("__component")
            if not isinstance(component, str):
                skips["missing_key:__component"] += 1
                component = "unknown"
            used = False
            if component in PAIR_COMPONENTS:
                used = True
                pair = _pair(block, skips)
                if pair:
                    yield QAItem(*pair, origin, "nextjs", component, None, f"items[{i}]")
            for key in NESTED_LISTS:
                if key in block:
                    used = True
                    yield from self._pairs_in(origin, component, f"items[{i}].{key}", block[key], None, skips)
            if "merchants" in block:
                used = True
                yield from self._pairs_in(
                    origin, component, f"items[{i}].merchants", block["merchants"], "merchant", skips
                )
            if "banks" in block:
                used = True
                yield from self._banks(origin, component, f"items[{i}].banks", block["banks"], skips)
            if not used:
                skips[f"unknown_component:{component}"] += 1

    def _pairs_in(
        self, origin: str, component: str, ref: str, entries: Any, wrapper: str | None, skips: Skips
    ) -> Iterator[QAItem]:
        if not isinstance(entries, list):
            skips["nextjs:not_a_list"] += 1
            return
        for j, entry in enumerate(entries):
            if wrapper is not None:
                entry = entry.get(wrapper) if isinstance(entry, dict) else None
                if entry is None:
                    skips[f"missing_key:{wrapper}"] += 1
                    continue
            if not isinstance(entry, dict):
                skips["nextjs:not_an_object"] += 1
                continue
            pair = _pair(entry, skips)
            if pair:
                yield QAItem(*pair, origin, "nextjs", component, None, f"{ref}[{j}]")

    def _banks(self, origin: str, component: str, ref: str, entries: Any, skips: Skips) -> Iterator[QAItem]:
        if not isinstance(entries, list):
            skips["nextjs:not_a_list"] += 1
            return
        for j, entry in enumerate(entries):
            bank = entry.get("bank") if isinstance(entry, dict) else None
            if not isinstance(bank, dict):
                skips["missing_key:bank"] += 1
                continue
            title = _text(bank, "title", skips)
            if title is None:
                continue
            description = bank.get("description")
            answer = (
                description
                if isinstance(description, str) and description.strip()
                else self.bank_answer.format(bank=title)
            )
            yield QAItem(title, answer, origin, "nextjs", component, None, f"{ref}[{j}]")


def _text(obj: dict[str, Any], key: str, skips: Skips, fallback: str | None = None) -> str | None:
    value = obj.get(key)
    if value is None and fallback is not None:
        value = obj.get(fallback)
    if value is None:
        skips[f"missing_key:{key}"] += 1
        return None
    if not isinstance(value, str):
        skips[f"not_text:{key}"] += 1
        return None
    return value


def _pair(obj: dict[str, Any], skips: Skips) -> tuple[str, str] | None:
    title = _text(obj, "title", skips)
    description = _text(obj, "description", skips)
    if title is None or description is None:
        return None
    return title, description
