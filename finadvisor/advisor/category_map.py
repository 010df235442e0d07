"""The reviewed category -> service map: known spending-category names decide their services from a file.

Spending APIs use a fixed taxonomy, so the names the advisor meets are mostly known in advance. Choosing among
look-alike candidates is what the small model does worst, and near-tied dense scores for short names ("Thuốc",
"Du lịch") make retrieval flip between neighbours; a file that product people read, review and edit
(``finadvisor/data/category_map.csv``, versioned with the catalog) removes both for known names. Retrieval only
handles names the map does not know.

    category,service,link
    Ăn uống,Ưu đãi ăn uống,https://finadvisor.vn/dich-vu/uu-dai-an-uong

Rows are in order of preference; ``service`` is for the human reader, ``link`` is the key into the catalog. A row
whose link is not in the running catalog is ignored (another company's catalog falls back to retrieval). Names
starting with ``@`` are advisor signals: ``@surplus`` (income far above spending), ``@debt`` (card debt, loans,
late fees) and ``@fallback`` (nothing else fits). Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from pathlib import Path

from finadvisor.errors import ConfigError

CATEGORY_MAP_PATH = Path(__file__).resolve().parent.parent / "data" / "category_map.csv"
_SEPARATORS = re.compile(r"[\s_&/,.+-]+")


def fold(text: str) -> str:
    """Lower case, no diacritics (đ -> d), separators collapsed: "FOOD_AND_BEVERAGE" ~ "food and beverage",
    "Ăn uống" ~ "an uong". Used only to match whole names, where folding cannot merge two different words
    into one ambiguous token the way it can inside free text."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return collapse(text)


def collapse(text: str) -> str:
    """Separators collapsed to single spaces, "and" dropped ("&" is "and"): the word boundaries ``fold`` and the
    topic lexicon's accented reading share."""
    return " ".join(w for w in _SEPARATORS.sub(" ", text).split() if w != "and")


class CategoryMap:
    """Lookup by exact (case-insensitive, NFC) name first, then by folded name."""

    def __init__(self, rows: list[tuple[str, str]] | None = None) -> None:
        self._exact: dict[str, list[str]] = {}
        self._folded: dict[str, list[str]] = {}
        # part of the advisor's cache key: an edited map must not serve advice made with the old one
        self.version = hashlib.sha256(json.dumps(rows or [], ensure_ascii=False).encode()).hexdigest()[:16]
        for name, link in rows or []:
            for table, key in ((self._exact, exact_key(name)), (self._folded, fold(name))):
                links = table.setdefault(key, [])
                if link not in links:
                    links.append(link)

    def __len__(self) -> int:
        return len(self._exact)

    def links(self, name: str) -> list[str]:
        """The mapped links for a category name, in order of preference ([] when the name is unknown)."""
        return self._exact.get(exact_key(name)) or self._folded.get(fold(name)) or []

    def names(self) -> list[str]:
        return list(self._exact)


def exact_key(name: str) -> str:
    """Lower case, NFC, single spaces; diacritics kept ("Váy" is not "Vay")."""
    return " ".join(unicodedata.normalize("NFC", name).lower().split())


def load_category_map(path: Path | None = None) -> CategoryMap:
    """Read the CSV (``category,service,link`` header; ``#`` comment lines); errors name the file and line."""
    path = Path(path) if path else CATEGORY_MAP_PATH
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"category map {path} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"category map {path} is not UTF-8 text") from None
    lines = [
        (n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")
    ]
    reader = csv.reader([line for _, line in lines])
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:3]] != ["category", "service", "link"]:
        raise ConfigError(f"category map {path}: the first row must be the header 'category,service,link'")
    rows: list[tuple[str, str]] = []
    for (number, _), row in zip(lines[1:], reader, strict=False):
        if len(row) < 3 or not row[0].strip() or not row[2].strip():
            raise ConfigError(f"category map {path}, line {number}: expected 'category,service,link'")
        rows.append((row[0].strip(), row[2].strip()))
    return CategoryMap(rows)
