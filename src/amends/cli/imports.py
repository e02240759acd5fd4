"""``amends import customers FILE`` and ``amends import sites FILE``.

Thin: options in, :mod:`amends.catalog.importer` does the work, one commit
at the end (the unit of work), and a Rich progress bar on stderr while a
large file is read, so ``--json`` output on stdout stays clean.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from amends.availability.importer import import_outages
from amends.catalog import importer
from amends.cli.context import JsonOption, console, emit, err_console, state
from amends.errors import ImportRejected

app = typer.Typer(
    no_args_is_help=True,
    help="Import customers and sites from CSV or JSONL files (gzip'd too); upsert by external id.",
)

PROGRESS_BYTES = 1 << 20  # smaller files finish before a bar is worth drawing
SHOWN_PROBLEMS = 20


class FileFormat(enum.StrEnum):
    csv = "csv"
    jsonl = "jsonl"


FileArgument = typer.Argument(
    ..., exists=True, dir_okay=False, readable=True, help="CSV or JSONL file, optionally .gz."
)
SkipOption = typer.Option(
    False,
    "--skip-invalid",
    help="Import the valid rows and write the invalid ones to a rejects file.",
)
RejectsOption = typer.Option(
    None,
    "--rejects",
    dir_okay=False,
    help="Where --skip-invalid writes rejects (default: FILE.rejects.csv).",
)
FormatOption = typer.Option(
    None,
    "--format",
    case_sensitive=False,
    help="File format (default: from the extension, .gz ignored).",
)


@app.command("customers")
def customers(
    ctx: typer.Context,
    file: Path = FileArgument,
    skip_invalid: bool = SkipOption,
    rejects: Path | None = RejectsOption,
    fmt: FileFormat | None = FormatOption,
    as_json: bool = JsonOption,
) -> None:
    """Create or update customers from FILE, matched by external id.

    Columns: external_id, name, email, phone, locale, timezone, tier, channels,
    opt_out (lists separated by ';'). Opt-outs are only ever added. Atomic
    unless --skip-invalid.
    """
    _run(ctx, importer.import_customers, file, skip_invalid, rejects, fmt, as_json)


@app.command("sites")
def sites(
    ctx: typer.Context,
    file: Path = FileArgument,
    skip_invalid: bool = SkipOption,
    rejects: Path | None = RejectsOption,
    fmt: FileFormat | None = FormatOption,
    as_json: bool = JsonOption,
) -> None:
    """Create or update sites from FILE, matched by external id.

    Columns: external_id, customer (external id of an imported customer),
    domain, plan, currency, monthly_price or monthly_price_minor, state,
    components (existing keys, ';'-separated), started_at and ended_at (ISO
    8601 with an offset). A site's components are replaced. Atomic unless
    --skip-invalid.
    """
    _run(ctx, importer.import_sites, file, skip_invalid, rejects, fmt, as_json)


@app.command("outages")
def outages(
    ctx: typer.Context,
    file: Path = FileArgument,
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Import the valid rows only."),
    fmt: FileFormat | None = FormatOption,
    as_json: bool = JsonOption,
) -> None:
    """Add downtime windows from monitoring, for availability.

    Columns: component (key), starts_at, ends_at (ISO 8601 with an offset),
    impact (major_outage, partial_outage, degraded_performance or maintenance;
    default major_outage), source. Re-importing a window changes nothing.
    Atomic unless --skip-invalid.
    """
    try:
        with state(ctx).session() as session:
            result = import_outages(
                session=session,
                path=file,
                fmt=fmt.value if fmt else None,
                skip_invalid=skip_invalid,
            )
    except ImportRejected as exc:
        for problem in exc.problems[:SHOWN_PROBLEMS]:
            err_console.print(
                f"[bold red]error[/] {escape(str(problem))}", highlight=False, soft_wrap=True
            )
        raise typer.Exit(1) from None
    data = {
        "file": str(file), "rows": result.rows, "added": result.added,
        "unchanged": result.unchanged, "skipped": result.skipped,
        "problems": [str(p) for p in result.problems],
    }  # fmt: skip
    emit(data, as_json=as_json, render=lambda d: console.print(
        f"{escape(d['file'])}: {d['rows']} rows, {d['added']} added, {d['unchanged']} unchanged, "
        f"{d['skipped']} skipped", highlight=False, soft_wrap=True,
    ))  # fmt: skip


def _run(
    ctx: typer.Context,
    run: Callable[..., importer.ImportResult],
    file: Path,
    skip_invalid: bool,
    rejects: Path | None,
    fmt: FileFormat | None,
    as_json: bool,
) -> None:
    show = err_console.is_terminal and file.stat().st_size >= PROGRESS_BYTES
    try:
        with _progress(show, file.name) as progress, state(ctx).session() as session:
            result = run(
                session=session,
                path=file,
                format=fmt.value if fmt else None,
                skip_invalid=skip_invalid,
                rejects_path=rejects,
                progress=progress,
            )
    except ImportRejected as exc:
        for problem in exc.problems[:SHOWN_PROBLEMS]:
            # The problem quotes the file's own text: never read it as markup.
            err_console.print(
                f"[bold red]error[/] {escape(str(problem))}", highlight=False, soft_wrap=True
            )
        if len(exc.problems) > SHOWN_PROBLEMS:
            err_console.print(f"… and {len(exc.problems) - SHOWN_PROBLEMS} more problems")
        if exc.hint:
            err_console.print(exc.hint, markup=False, highlight=False)
        raise typer.Exit(1) from None
    emit(result.as_dict(), as_json=as_json, render=_render)


def _render(data: dict[str, Any]) -> None:
    """One line each, never wrapped by Rich: a path broken across lines cannot
    be copied."""
    console.print(
        f"{escape(data['file'])}: {data['read']:,} rows read, {data['inserted']:,} inserted, "
        f"{data['updated']:,} updated, {data['unchanged']:,} unchanged, "
        f"{data['rejected']:,} rejected in {data['seconds']:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    if data["rejects_file"]:
        console.print(
            f"rejects written to {escape(data['rejects_file'])}", highlight=False, soft_wrap=True
        )


@contextmanager
def _progress(show: bool, name: str) -> Iterator[importer.Progress | None]:
    """A callback driving a Rich bar: bytes read, then the merge steps."""
    if not show:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                label = f"reading {escape(name)}" if phase == "read" else "writing"
                tasks[phase] = bar.add_task(label, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update
