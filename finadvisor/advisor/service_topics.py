"""The catalog's topic file: which spending topics each service serves, written next to the index (issue 23).

On another company's catalog a spending topic goes only to the services about it. What a service is about is
read from its name with the spending lexicon ("Tiền điện tự động" is electricity) or, for a brand-like name
("Heo Đất", "Vé Vui"), from the topic its description leads with. That reading is written once, when the
advisor opens the index, to ``<index_dir>/service_topics.csv``: one row per service, which product people read
and correct like the category map. A row whose ``reviewed`` column says ``yes`` wins over the reading and is kept
when the file is written again (a new service gets a fresh row; a removed one loses its row).

    link,service,name_topics,description_topic,reviewed
    vtpay://fuel,Xăng Ngay,,fuel,
    vtpay://tv,Giải Trí Số,entertainment,streaming,yes

``name_topics``: '|'-separated topics the name names (the first is the one it leads with);
``description_topic``: the topic the description leads with. An edited file is part of the advisor's cache key.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from finadvisor.errors import ConfigError
from finadvisor.fsutil import atomic_write

FILE_NAME = "service_topics.csv"
HEADER = ["link", "service", "name_topics", "description_topic", "reviewed"]
MAX_SERVICES = (
    20_000  # reading every service of a larger catalog at open costs minutes: it is read per request
)
Reading = tuple[set[str], set[str], str]  # name topics, description topic, the topic the name leads with


def load_reviewed(path: Path, known: set[str]) -> dict[str, Reading]:
    """The rows marked reviewed, by link. A row naming an unknown topic is an error naming the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"service topics {path} cannot be read: {exc.strerror or exc}") from None
    reviewed: dict[str, Reading] = {}
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), 2):
        if (row.get("reviewed") or "").strip().lower() not in ("yes", "true", "1"):
            continue
        names = [t.strip() for t in (row.get("name_topics") or "").split("|") if t.strip()]
        described = (row.get("description_topic") or "").strip()
        if unknown := [t for t in [*names, described] if t and t not in known]:
            raise ConfigError(f"service topics {path}, line {number}: unknown topics {unknown}")
        reviewed[(row.get("link") or "").strip()] = (
            set(names),
            {described} if described else set(),
            names[0] if names else "",
        )
    return reviewed


def render(rows: list[tuple[str, str, Reading, bool]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for link, service, (names, described, lead), reviewed in rows:
        ordered = [lead, *sorted(names - {lead})] if lead else sorted(names)
        writer.writerow(
            [link, service, "|".join(ordered), next(iter(described), ""), "yes" if reviewed else ""]
        )
    return out.getvalue()


def version(path: Path) -> str:
    """Part of the advisor's cache key: a reviewed edit is new advice."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return "none"


def write(path: Path, rows: list[tuple[str, str, Reading, bool]]) -> None:
    """Write the file when its text changed (the caller keeps a catalog above ``MAX_SERVICES`` away)."""
    text = render(rows)
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    atomic_write(path, text)
