"""``amends demo``: the 2012 outage on the embedded default, end to end."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import typer

from amends import demo as demo_flow
from amends.cli.context import console
from amends.cli.credits import render_report
from amends.cli.deliveries import render_counts
from amends.cli.incidents import render_summary
from amends.config import Settings
from amends.db import init_engine
from amends.delivery.dispatch import Dispatcher


def demo(
    customers: int = typer.Option(10_000, "--customers", "-n", min=1, help="How many customers."),
    seed: int = typer.Option(2012, help="Same seed, same provider, same results."),
    db: Path = typer.Option(
        Path("amends-demo.db"), "--db", help="SQLite file to build (replaced on every run)."
    ),
    send: bool = typer.Option(True, "--send/--no-send", help="Send the notices it owes."),
    with_console: bool = typer.Option(
        False,
        "--console",
        help="Then serve the operator console on the result, with a demo admin whose "
        "one-time password is printed (Ctrl-C stops it).",
    ),
    port: int = typer.Option(8000, "--port", help="The console's port (with --console)."),
) -> None:
    """Replay GoDaddy's DNS outage of 10 September 2012 on a synthetic provider."""
    db = db.resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    settings = Settings(database_url=url, notice_sender=demo_flow.COMPANY)
    engine = init_engine(settings)
    sink = _SmtpSink() if send else None
    if sink is not None:
        # E-mail goes to an SMTP server inside this process, never to the world.
        settings = settings.model_copy(update=sink.settings())
    # The demo has an SMTP sink but no SMS or voice provider: their rows wait, quietly.
    logging.getLogger("amends.delivery.dispatch").setLevel(logging.ERROR)
    dispatcher = Dispatcher(engine=engine, settings=settings) if send else None
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
                dispatcher=dispatcher,
            )
    finally:
        engine.dispose()
    try:
        _print(result, url, sink, dispatcher)
        if with_console:
            _serve_console(settings, port)
    finally:
        if sink is not None:
            sink.stop()


def _print(
    result: demo_flow.DemoResult, url: str, sink: _SmtpSink | None, dispatcher: Dispatcher | None
) -> None:
    console.print(
        f"\n[bold]{result.customers:,}[/] customers with [bold]{result.sites:,}[/] sites; "
        f"incident #{result.incident_id} replayed.\n"
    )
    render_summary(result.summary.model_dump(mode="json"))
    if result.deliveries is not None:
        console.print()
        render_counts(
            {
                "incident_id": result.deliveries.incident_id,
                "total": result.deliveries.total,
                "by_state": result.deliveries.by_state,
                "by_channel": result.deliveries.by_channel,
                "notices": result.deliveries.notices,
            }
        )
        if sink is not None and sink.received:
            console.print(f"the in-process SMTP sink accepted {sink.received:,} e-mails")
        if dispatcher is not None and not dispatcher.channels:
            console.print("[yellow]no delivery channel is installed here: notices stay pending[/]")
    console.print(
        f"\n[bold]Compensation[/] (policy {demo_flow.POLICY}: 1 month per active/published "
        "site, redeemed with one click within 30 days)"
    )
    render_report(result.credits)
    if result.sample_link:
        console.print(
            f"one customer's redemption link, as their apology carries it: {result.sample_link}"
            "\n  (amends serve, then open it: GET only shows the credit, the button redeems it)",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"DNS track record the apology may quote: {result.track_record or '(none)'}"
        " — GoDaddy claimed 99.999 %.",
        highlight=False,
        soft_wrap=True,
    )
    for lang, report in result.audits.items():
        verdict = "[red]blocked[/]" if report.blocked else f"[green]{report.worst.value}[/]"
        found = sum(1 for step in report.steps if step.present)
        console.print(
            f"apology ({lang}): the auditor found {found} of 7 steps; worst finding: {verdict}",
            highlight=False,
        )
    timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.timings.items())
    console.print(f"\ntook: {timings}")
    console.print(
        "\n[bold]Next:[/]\n"
        f"  export AMENDS_DATABASE_URL={url}\n"
        f"  amends incident show {result.incident_id}      # the timeline\n"
        f"  amends deliveries {result.incident_id}         # what was sent, on which channel\n"
        f"  amends impact {result.incident_id} --export affected.csv   # every affected site\n"
        f"  amends credits report {result.incident_id}      # the credits, by state\n"
        f"  amends report {result.incident_id}              # the after-action record\n"
        "  amends component list                # components and their status\n"
        "  amends apikey create --scope admin && amends serve   # the REST API at /api/v1/docs\n"
        "  amends serve, then open http://127.0.0.1:8000/  # the public status page "
        f"(incident: http://127.0.0.1:8000/en/incidents/{result.incident_id}.html)",
        highlight=False,
    )


DEMO_ADMIN = "admin@demo.example"


def _serve_console(settings: Settings, port: int) -> None:
    """The console on the demo's database, signed in as a demo admin made now.

    The password is generated, printed once, and only its argon2 hash kept;
    e-mail still goes to the in-process sink, never to the world.
    """
    import uvicorn

    from amends.api.app import create_app
    from amends.db import unit_of_work
    from amends.users import service as user_service
    from amends.users.models import Role

    app = create_app(settings, start_dispatch=True)
    password = user_service.generate_password()
    with unit_of_work(app.state.sessions) as session:
        user_service.create_user(
            session=session, email=DEMO_ADMIN, role=Role.admin, password=password, name="Demo admin"
        )
    console.print("\n[bold]The operator console[/] (Ctrl-C stops it)")
    typer.echo(f"console: http://127.0.0.1:{port}/console/")
    typer.echo(f"user: {DEMO_ADMIN}")
    typer.echo(f"password: {password}", err=False)
    console.print("[yellow]this password is shown once; only its hash is kept[/]")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


class _SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that accepts and counts e-mails."""

    def __init__(self) -> None:
        import socket

        from aiosmtpd.controller import Controller

        self.received = 0
        sink = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
                sink.received += 1
                return "250 2.0.0 accepted by the demo sink"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def settings(self) -> dict[str, object]:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_starttls": "off"}

    def stop(self) -> None:
        self.controller.stop()
