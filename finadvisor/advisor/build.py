"""Build an :class:`~finadvisor.advisor.service.Advisor` from settings, with no HTTP app around it.

    llm = LLMService(engine, metrics, model_name=settings.model_name)
    advisor = await build_advisor(settings, llm, metrics=metrics, embedder=embedder)

The web routes, ``finadvisor recommend``, the nightly batch and the benchmarks all build their advisor here, so
they open the same index the same way. A one-off catalog (``recommend --catalog X``) gets an index of its own
next to the server's, keyed by the catalog file's content, and never replaces the index ``serve`` uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from finadvisor.advisor.cache import RecommendationCache, create_cache
from finadvisor.advisor.category_map import load_category_map
from finadvisor.advisor.service import Advisor
from finadvisor.advisor.service_topics import FILE_NAME as TOPIC_FILE
from finadvisor.catalog import CatalogIndex, demo_catalog_path, get_embedder
from finadvisor.catalog.index import load_vocabulary
from finadvisor.engines import Engine, create_engine, llm_service, loads_gguf_lora, uses_packaged_model
from finadvisor.engines.service import LLMService
from finadvisor.errors import ConfigError, EngineUnavailable, FinadvisorError
from finadvisor.metrics import Metrics
from finadvisor.settings import Settings


def make_embedder(settings: Settings) -> Any:
    """The catalog embedder the settings name (loads model weights: call it off the event loop)."""
    return get_embedder(settings.embedder, url=settings.embedder_url, model=settings.embedder_model)


def index_dir_for(settings: Settings, catalog: Path | None = None) -> Path:
    """The index folder for a catalog. The configured catalog (or the demo one) uses ``settings.index_dir``;
    any other catalog file gets its own folder, so a one-off run cannot replace the server's index."""
    base = settings.index_folder
    if catalog is None or (
        settings.catalog_path is not None and Path(catalog) == Path(settings.catalog_path)
    ):
        return base
    digest = hashlib.sha256(Path(catalog).read_bytes()).hexdigest()[:16]
    return base.parent / f"{base.name}-oneoff-{digest}"


def open_index(settings: Settings, embedder: Any, *, catalog: Path | None = None) -> CatalogIndex:
    """Open (or build) the catalog index the settings describe. Blocking: run it in a worker thread."""
    source = catalog or settings.catalog_path or demo_catalog_path()
    # An explicitly configured catalog file is the source of truth: the index follows its edits.
    return CatalogIndex.open_or_build(
        index_dir_for(settings, catalog),
        embedder,
        source,
        tuple(settings.link_schemes),
        vocabulary=load_vocabulary(settings.category_vocabulary),
        sync=catalog is not None or settings.catalog_path is not None,
    )


async def build_advisor(
    settings: Settings,
    llm: LLMService,
    *,
    metrics: Metrics,
    embedder: Any = None,
    catalog: Path | None = None,
    cache: RecommendationCache | None = None,
) -> Advisor:
    """The advisor for these settings: embedder, index and cache built off the event loop."""
    if embedder is None:
        embedder = await asyncio.to_thread(make_embedder, settings)
    index = await asyncio.to_thread(open_index, settings, embedder, catalog=catalog)
    if cache is None:
        cache = create_cache(settings.cache_url, ttl_s=settings.cache_ttl_s, maxsize=settings.cache_maxsize)
    category_map = await asyncio.to_thread(load_category_map, settings.category_map)
    advisor = Advisor(
        llm,
        index,
        cache,
        metrics=metrics,
        max_tokens=settings.advisor_max_tokens,
        category_map=category_map,
        writer=advisor_writer(settings),
        writer_adapter=settings.advisor_writer_adapter,
        candidates=settings.advisor_candidates,
    )
    wanted = settings.advisor_writer_adapter
    if wanted and advisor.writer == "model" and wanted not in llm.engine.adapters():
        raise ConfigError(
            f"advisor_writer_adapter={wanted!r} is not a loaded adapter; load it with --lora {wanted}=PATH "
            f"(loaded: {', '.join(llm.engine.adapters()) or 'none'})"
        )
    # the catalog's topic file, next to the index: reviewed rows win, every service gets a row (issue 23)
    await asyncio.to_thread(advisor.ranker.use_topic_file, index_dir_for(settings, catalog) / TOPIC_FILE)
    return advisor


def advisor_writer(settings: Settings) -> str:
    """'auto' is the catalog's words on the packaged 0.5B model (measured: its free sentence almost never passes
    the faithfulness check, and the placeholder writer's figures are in docs/ADVISOR.md), the model's free
    sentence on any other engine or model."""
    if settings.advisor_writer != "auto":
        return settings.advisor_writer
    return "catalog" if uses_packaged_model(settings) else "free"


WRITER_ADAPTER = "finadvisor-writer"


def packaged_writer_adapter() -> Path | None:
    """The writer LoRA shipped with the package (``finadvisor/data/writer_lora``; rebuilt by
    ``scripts/build_writer_adapter.sh``), or None when this install has none."""
    path = Path(__file__).resolve().parents[1] / "data" / "writer_lora" / "adapter.gguf"
    return path if path.is_file() else None


def with_writer_adapter(settings: Settings) -> Settings:
    """``--writer model`` on the packaged model with llama.cpp: the shipped writer LoRA is loaded under
    ``finadvisor-writer`` and the writer asks for it, unless the user named an adapter of their own."""
    if (
        advisor_writer(settings) != "model"
        or settings.advisor_writer_adapter
        or not loads_gguf_lora(settings)
        or not uses_packaged_model(settings)
        or any(spec.split("=", 1)[0] == WRITER_ADAPTER for spec in settings.lora)
    ):
        return settings
    path = packaged_writer_adapter()
    if path is None:
        return settings
    return settings.model_copy(
        update={
            "lora": [*settings.lora, f"{WRITER_ADAPTER}={path}"],
            "advisor_writer_adapter": WRITER_ADAPTER,
        }
    )


@contextlib.asynccontextmanager
async def standalone_advisor(
    settings: Settings, *, catalog: Path | None = None, engine: Engine | None = None
) -> AsyncIterator[Advisor]:
    """An advisor on its own engine, for command-line jobs (``recommend``, ``batch``): starts the engine, waits
    until it is ready, and closes everything on the way out. No HTTP app is built."""
    settings = with_writer_adapter(settings)
    engine = engine or create_engine(settings)
    metrics = Metrics()
    llm = llm_service(engine, settings, metrics)
    advisor: Advisor | None = None
    try:
        start = asyncio.create_task(engine.start())
        advisor = await build_advisor(settings, llm, metrics=metrics, catalog=catalog)
        try:
            await start
        except FinadvisorError as exc:
            raise EngineUnavailable(f"the engine failed to start: {exc.message}") from None
        yield advisor
    finally:
        if advisor is not None:
            await advisor.close()
        await engine.close()
