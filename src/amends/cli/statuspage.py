"""``amends statuspage``: the static export and postmortems."""

from __future__ import annotations

import contextlib
import functools
import threading
from pathlib import Path

import typer

from amends.cli.context import console, err_console, state
from amends.config import Settings
from amends.db import read_only, session_factory, unit_of_work
from amends.statuspage import export as site_export
from amends.statuspage import service as statuspage_service

app = typer.Typer(no_args_is_help=True, help="The public status page.")


def _report(result: site_export.ExportResult) -> None:
    console.print(
        f"exported {result.total} files ({len(result.written)} written, "
        f"{result.unchanged} unchanged) in {result.seconds:.2f}s"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    directory: Path = typer.Argument(..., help="Directory to write the site into."),
    watch: bool = typer.Option(False, "--watch", help="Keep exporting after every change."),
    interval: float = typer.Option(None, help="Seconds between checks with --watch."),
) -> None:
    """Write the whole public site (pages, JSON, feeds, badges) as static files."""
    app_state = state(ctx)
    reading = functools.partial(unit_of_work, session_factory(read_only(app_state.engine)))
    settings = app_state.settings
    if not watch:
        _report(site_export.export(reading=reading, settings=settings, directory=directory)[0])
        return
    err_console.print(f"watching for changes; exporting to {directory} (Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):
        site_export.watch(
            reading=reading,
            settings=settings,
            directory=directory,
            interval=interval or settings.statuspage_export_interval,
            on_export=_report,
        )


@app.command("postmortem")
def postmortem(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="A resolved incident."),
    file: Path = typer.Option(..., "--file", "-f", help="Text file with the postmortem."),
) -> None:
    """Publish (or replace) the postmortem shown on the incident's public page."""
    with state(ctx).session() as session:
        statuspage_service.publish_postmortem(
            session=session, incident_id=incident_id, body=file.read_text(encoding="utf-8")
        )
    console.print(f"postmortem of incident #{incident_id} published")


def background_export(settings: Settings, engine: object) -> threading.Event:
    """For ``amends serve``: keep ``statuspage_export_dir`` up to date in a thread.

    Returns the event that stops it.
    """
    from sqlalchemy import Engine

    assert isinstance(engine, Engine) and settings.statuspage_export_dir is not None
    stop = threading.Event()
    reading = functools.partial(unit_of_work, session_factory(read_only(engine)))
    thread = threading.Thread(
        target=site_export.watch,
        kwargs={
            "reading": reading,
            "settings": settings,
            "directory": settings.statuspage_export_dir,
            "interval": settings.statuspage_export_interval,
            "should_stop": stop.is_set,
        },
        name="statuspage-export",
        daemon=True,
    )
    thread.start()
    return stop
