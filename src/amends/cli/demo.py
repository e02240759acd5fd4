"""``amends demo``: the 2012 outage on the embedded default, end to end."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from amends import demo as demo_flow
from amends.cli.context import console
from amends.cli.incidents import render_summary
from amends.config import Settings
from amends.db import init_engine


def demo(
    customers: int = typer.Option(10_000, "--customers", "-n", min=1, help="How many customers."),
    seed: int = typer.Option(2012, help="Same seed, same provider, same results."),
    db: Path = typer.Option(
        Path("amends-demo.db"), "--db", help="SQLite file to build (replaced on every run)."
    ),
) -> None:
    """Replay GoDaddy's DNS outage of 10 September 2012 on a synthetic provider."""
    db = db.resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    engine = init_engine(Settings(database_url=url))
    try:
        with (
            tempfile.TemporaryDirectory(prefix="amends-demo-") as workdir,
            console.status("starting") as status,
        ):

            def report(text: str) -> None:
                status.update(text)
                console.print(f"· {text}")

            result = demo_flow.run(
                engine,
                workdir=Path(workdir),
                customers=customers,
                seed=seed,
                step=report,
            )
    finally:
        engine.dispose()
    console.print(
        f"\n[bold]{result.customers:,}[/] customers with [bold]{result.sites:,}[/] sites; "
        f"incident #{result.incident_id} replayed.\n"
    )
    render_summary(result.summary.model_dump(mode="json"))
    timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.timings.items())
    console.print(f"\ntook: {timings}")
    console.print(
        "\n[bold]Next:[/]\n"
        f"  export AMENDS_DATABASE_URL={url}\n"
        f"  amends incident show {result.incident_id}      # the timeline\n"
        f"  amends impact {result.incident_id} --export affected.csv   # every affected site\n"
        "  amends component list                # components and their status\n"
        "  amends apikey create --scope admin && amends serve   # the REST API at /api/v1/docs\n"
        "  amends serve, then open http://127.0.0.1:8000/  # the public status page "
        f"(incident: http://127.0.0.1:8000/en/incidents/{result.incident_id}.html)",
        highlight=False,
    )
