"""The catalog's data model and its loader: the one place that decides what a valid service entry is.

The input format is the seed's JSON list ``[{"service": ..., "link": ..., "description": ...}]``. An optional
``id`` and any extra fields are kept (extras go to ``metadata``). Catalogs are written by people, so every
problem is reported as one :class:`~finadvisor.errors.ValidationFailed` naming the entry index, the service name
when there is one, and the field, e.g. ``catalog entry 3 ('Vé xem phim'): field 'link': scheme 'javascript' ...``.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from finadvisor.errors import ValidationFailed

# Any scheme by default: a company's catalog links into its own app ("lazycat://bill"). "*" in the allowed list
# means any scheme; the schemes that can run script or read files are refused whatever the setting says.
ANY_SCHEME = "*"
DEFAULT_SCHEMES: tuple[str, ...] = (ANY_SCHEME,)
REFUSED_SCHEMES = frozenset({"javascript", "vbscript", "data", "file"})
SCHEMES_SETTING = "link_schemes (FINADVISOR_LINK_SCHEMES)"
REQUIRED_FIELDS = ("service", "link", "description")
MAX_LENGTHS = {"id": 200, "service": 200, "link": 2000, "description": 5000}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SLUG = re.compile(r"[^a-z0-9]+")


def clean_text(value: str) -> str:
    """NFC (so composed and decomposed Vietnamese compare equal), no control/bidi characters, single spaces."""
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", value))
    return " ".join(text.split())


def id_from_link(link: str) -> str:
    """A stable, readable id: the link's last path segment (ASCII slug) plus 8 hex chars of its hash."""
    digest = hashlib.sha256(link.encode("utf-8")).hexdigest()[:8]
    parts = urlsplit(link)
    tail = (parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.netloc or "service").lower()
    ascii_tail = unicodedata.normalize("NFKD", tail).encode("ascii", "ignore").decode()
    slug = _SLUG.sub("-", ascii_tail).strip("-")[:60] or "service"
    return f"{slug}-{digest}"


class Service(BaseModel):
    """One catalog entry. ``text()`` is what gets embedded and lexically indexed."""

    model_config = ConfigDict(frozen=True)

    id: str = ""
    service: str
    link: str
    description: str
    metadata: dict[str, Any] = Field(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        if not self.id:
            object.__setattr__(self, "id", id_from_link(self.link))

    def text(self) -> str:
        return f"{self.service}: {self.description}"

    def public(self) -> dict[str, Any]:
        """The seed's wire shape (what the advisor prompt and ``--json`` show)."""
        return {"service": self.service, "link": self.link, "description": self.description}


def _where(index: int, entry: Any) -> str:
    name = entry.get("service") if isinstance(entry, dict) else None
    if isinstance(name, str) and name.strip():
        return f"catalog entry {index} ({clean_text(name)[:60]!r})"
    return f"catalog entry {index}"


def _check_link(link: str, allowed: Sequence[str]) -> str | None:
    """Return a problem description, or None when the link is acceptable."""
    if any(ch.isspace() for ch in link):
        return "must not contain spaces"
    parts = urlsplit(link)
    scheme = parts.scheme.lower()
    if not scheme:
        return "has no scheme (e.g. https://finadvisor.vn/dich-vu/ten-dich-vu or yourapp://bill)"
    if scheme in REFUSED_SCHEMES:
        return (
            f"scheme {scheme!r} can run script or read files and is always refused (the setting "
            f"{SCHEMES_SETTING} cannot allow it); use an https:// or app deep link"
        )
    if ANY_SCHEME not in allowed and scheme not in allowed:
        return (
            f"scheme {scheme!r} is not allowed by the setting {SCHEMES_SETTING} (allowed: "
            f"{', '.join(allowed)}); add it there, or set it to '*' to accept any scheme"
        )
    if not (parts.netloc or parts.path.strip("/")):
        return "has a scheme but no host or path"
    return None


def parse_entry(index: int, entry: Any, allowed_schemes: Sequence[str] = DEFAULT_SCHEMES) -> Service:
    """Validate one entry (``index`` is only used in error messages)."""
    where = _where(index, entry)
    if not isinstance(entry, dict):
        raise ValidationFailed(
            f"{where}: must be a JSON object with service, link and description, got {type(entry).__name__}",
            param=f"[{index}]",
        )
    allowed = tuple(s.lower() for s in allowed_schemes)
    values: dict[str, str] = {}
    for field in ("id", *REQUIRED_FIELDS):
        if field not in entry or entry[field] is None:
            if field == "id":
                continue
            raise ValidationFailed(f"{where}: field {field!r} is missing", param=f"[{index}].{field}")
        raw = entry[field]
        if not isinstance(raw, str):
            raise ValidationFailed(
                f"{where}: field {field!r} must be a string, got {type(raw).__name__}",
                param=f"[{index}].{field}",
            )
        value = clean_text(raw)
        if not value:
            raise ValidationFailed(f"{where}: field {field!r} is empty", param=f"[{index}].{field}")
        if len(value) > MAX_LENGTHS[field]:
            raise ValidationFailed(
                f"{where}: field {field!r} is longer than {MAX_LENGTHS[field]} characters",
                param=f"[{index}].{field}",
            )
        values[field] = value
    problem = _check_link(values["link"], allowed)
    if problem:
        raise ValidationFailed(
            f"{where}: field 'link' {values['link'][:80]!r} {problem}", param=f"[{index}].link"
        )
    metadata = dict(entry["metadata"]) if isinstance(entry.get("metadata"), dict) else {}
    metadata.update({k: v for k, v in entry.items() if k not in (*REQUIRED_FIELDS, "id", "metadata")})
    return Service(metadata=metadata, **values)


MAX_CATALOG_SERVICES = 500_000  # one catalog file; the index itself grows with `catalog add`


def parse_catalog(data: Any, allowed_schemes: Sequence[str] = DEFAULT_SCHEMES) -> list[Service]:
    """Validate already-parsed JSON: a list of entries (or ``{"services": [...]}``). Links and ids must be unique."""
    if isinstance(data, dict) and isinstance(data.get("services"), list):
        data = data["services"]
    if isinstance(data, dict) and set(REQUIRED_FIELDS) <= set(data):
        data = [data]  # a single entry, as `catalog add ENTRY.json` accepts
    if not isinstance(data, list):
        raise ValidationFailed(
            'catalog must be a JSON list of {"service", "link", "description"} objects, '
            f"got {type(data).__name__}"
        )
    if len(data) > MAX_CATALOG_SERVICES:
        raise ValidationFailed(
            f"catalog has {len(data)} entries; the limit is {MAX_CATALOG_SERVICES}. Split it and "
            "add the parts with 'finadvisor catalog add'"
        )
    services: list[Service] = []
    seen_links: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for index, entry in enumerate(data):
        svc = parse_entry(index, entry, allowed_schemes)
        if svc.link in seen_links:
            raise ValidationFailed(
                f"{_where(index, entry)}: field 'link' {svc.link!r} duplicates catalog entry "
                f"{seen_links[svc.link]}; each service needs its own link",
                param=f"[{index}].link",
            )
        if svc.id in seen_ids:
            raise ValidationFailed(
                f"{_where(index, entry)}: field 'id' {svc.id!r} duplicates catalog entry {seen_ids[svc.id]}",
                param=f"[{index}].id",
            )
        seen_links[svc.link] = index
        seen_ids[svc.id] = index
        services.append(svc)
    return services


def load_catalog(path: Path, allowed_schemes: Sequence[str] = DEFAULT_SCHEMES) -> list[Service]:
    """Read and validate a catalog file; errors name the file and the entry/field (or JSON line and column)."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValidationFailed(f"catalog file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read catalog file {path}: {exc}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    try:
        return parse_catalog(data, allowed_schemes)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{path}: {exc.message}", param=exc.param) from None


def demo_catalog_path() -> Path:
    """The packaged demo catalog (Vietnamese fintech services written for this project)."""
    return Path(__file__).resolve().parent.parent / "data" / "catalog_demo.json"
