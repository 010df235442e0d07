"""``finadvisor recommend`` (one history -> JSON on stdout) and ``finadvisor mock-spending-api``."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from finadvisor.cliopts import setting_option
from finadvisor.history import SpendingHistory, load_history_file
from finadvisor.settings import EngineName, Settings, WriterName, load_settings


def _iso_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time, e.g. 2025-06-30T20:00") from None


def recommend(
    history: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="Spending history JSON file (the seed's shape).")
    ],
    catalog: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Catalog JSON (default: the demo catalog)."),
    ] = None,
    index: Annotated[
        Path | None, typer.Option(help="Vector index folder (built from --catalog if empty).")
    ] = None,
    now: Annotated[
        datetime | None,
        typer.Option(
            parser=_iso_time,
            help="Current time, ISO 8601 (time-aware advice), e.g. 2025-06-30T20:00.",
            show_default="now",
        ),
    ] = None,
    upstream: Annotated[str | None, setting_option("upstream_url", "--upstream")] = None,
    model: Annotated[str | None, setting_option("model")] = None,
    engine: Annotated[
        EngineName | None,
        setting_option("engine", help="Inference engine (openai when --upstream is given)."),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Also print how the ranking was made (stderr): each line's kind, topic and how it was "
            "read (or abstained), the services already in use, every candidate's score.",
        ),
    ] = False,
    writer: Annotated[WriterName | None, setting_option("advisor_writer", "--writer")] = None,
) -> None:
    """Recommend 2-3 catalog services for one spending history and print the JSON."""
    parsed = load_history_file(history)
    settings = load_settings(
        index_dir=index,
        catalog_path=catalog if index else None,
        upstream_url=upstream,
        model=model,
        engine=engine or ("openai" if upstream else None),
        n_parallel=1,
        advisor_writer=writer,
    )
    result, explained = asyncio.run(_recommend(settings, parsed, now, None if index else catalog, explain))
    if explained is not None:
        sys.stderr.write(_explanation(explained))
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


async def _recommend(
    settings: Settings,
    history: SpendingHistory,
    now: datetime | None,
    catalog: Path | None,
    explain: bool = False,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    from finadvisor.advisor.build import standalone_advisor

    async with standalone_advisor(settings, catalog=catalog) as advisor:
        result = await advisor.recommend(history, now)
        explained = await asyncio.to_thread(advisor.ranker.explain, history) if explain else None
        return result.response.model_dump(), explained


def _explanation(explained: dict[str, Any]) -> str:
    """The ranking as an operator reads it: one line per history line, then the candidates."""
    out = ["# how the history was read (line | kind | topic | read by | shows a service in use)"]
    for line in explained["lines"]:
        use = ", ".join(line["shows_in_use"]) or "-"
        out.append(
            f"{line['name'][:40]:<40} {line['kind']:<9} {line['topic'] or '-':<18} {line['read_by']:<12} {use}"
        )
    out.append(
        "# candidates (score | source | service | lines behind it); * = chosen, ! = new credit, never offered"
    )
    chosen = set(explained["chosen"])
    for c in explained["candidates"]:
        mark = "*" if c["link"] in chosen else "!" if c["credit_offer"] else " "
        behind = ", ".join(sorted({e["line"] or e["kind"] for e in c["evidence"]}))
        out.append(f"{mark} {c['score']:>7.4f} {c['source']:<9} {c['service'][:32]:<32} {behind}")
    out.append(f"# lexicon {explained['lexicon_version']}, category map {explained['category_map_version']}")
    return "\n".join(out) + "\n"


def mock_spending_api(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8100,
    users_dir: Annotated[Path | None, typer.Option(help="Folder of <user>.json histories.")] = None,
) -> None:
    """Run the mock spending API (demo users; token = demo-<user>, cookie 'token')."""
    import uvicorn

    from finadvisor.advisor.mock_api import create_mock_app
    from finadvisor.advisor.providers import demo_histories_dir

    folder = users_dir or demo_histories_dir()
    app = create_mock_app(folder)
    typer.echo("tokens: " + ", ".join("demo-" + p.stem for p in sorted(folder.glob("*.json"))))
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("recommend")(recommend)
    app.command("mock-spending-api")(mock_spending_api)
