"""``amends component``, ``amends customer``, ``amends subscriber``."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from amends.catalog import service
from amends.catalog.models import Component, Customer, SubscriberKind
from amends.cli.context import JsonOption, console, emit, state
from amends.incidents import service as incident_service

components = typer.Typer(no_args_is_help=True, help="Components that can fail (DNS, e-mail…).")
customers = typer.Typer(no_args_is_help=True, help="Customers and their sites.")
subscribers = typer.Typer(no_args_is_help=True, help="Followers who are not customers.")


def component_dict(component: Component, status: str | None = None) -> dict[str, Any]:
    return {
        "key": component.key,
        "name": component.name,
        "group": component.group_name,
        "description": component.description,
        "position": component.position,
        "depends_on": [d.key for d in component.depends_on],
        **({"status": status} if status else {}),
    }


@components.command("add")
def add_component(
    ctx: typer.Context,
    key: str,
    name: str = typer.Option(None, help="Display name (default: the key)."),
    group: str = typer.Option(None, help="Group shown on the status page."),
    description: str = typer.Option(None),
    position: int = typer.Option(None, help="Order inside its group."),
    depends_on: list[str] = typer.Option(
        None, "--depends-on", help="Component this one needs (repeatable); replaces the list."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create or change a component."""
    with state(ctx).session() as session:
        component = service.save_component(
            session=session,
            key=key,
            name=name,
            group=group,
            description=description,
            position=position,
            depends_on=depends_on,
        )
        data = component_dict(component)
    emit(data, as_json=as_json, render=lambda d: console.print(f"saved component [bold]{key}[/]"))


@components.command("list")
def list_components(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Every component with its current status."""
    with state(ctx).session() as session:
        statuses = incident_service.component_statuses(session=session)
        data = [
            component_dict(c, statuses[c.key]) for c in service.list_components(session=session)
        ]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("key", "name", "group", "depends on", "status")
        for r in rows:
            table.add_row(
                r["key"], r["name"], r["group"] or "", ", ".join(r["depends_on"]), r["status"]
            )
        console.print(table)

    emit(data, as_json=as_json, render=render)


@components.command("remove")
def remove_component(ctx: typer.Context, key: str) -> None:
    """Delete a component no site uses."""
    with state(ctx).session() as session:
        service.delete_component(session=session, key=key)
    console.print(f"removed component [bold]{key}[/]")


def customer_dict(customer: Customer) -> dict[str, Any]:
    return {
        "external_id": customer.external_id,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "locale": customer.locale,
        "timezone": customer.timezone,
        "tier": customer.tier,
        "channels": customer.channels(),
        "opted_out": customer.opted_out(),
    }


@customers.command("show")
def show_customer(ctx: typer.Context, external_id: str, as_json: bool = JsonOption) -> None:
    """One customer with their sites."""
    with state(ctx).session() as session:
        customer = service.get_customer(session=session, external_id=external_id)
        data = customer_dict(customer) | {
            "sites": [
                {
                    "external_id": s.external_id,
                    "domain": s.domain,
                    "plan": s.plan,
                    "state": str(s.state),
                    "monthly_price_minor": s.monthly_price_minor,
                    "currency": s.currency,
                    "components": [c.key for c in s.components],
                }
                for s in service.sites_of(session=session, customer=customer)
            ]
        }

    def render(d: dict[str, Any]) -> None:
        console.print(
            f"[bold]{d['name']}[/] ({d['external_id']}) {d['email'] or ''} "
            f"{d['phone'] or ''} · {d['locale']} · {d['tier']}"
        )
        console.print(
            f"channels: {', '.join(d['channels']) or '-'}; "
            f"opted out: {', '.join(d['opted_out']) or '-'}"
        )
        table = Table("site", "domain", "plan", "state", "price", "components")
        for s in d["sites"]:
            table.add_row(
                s["external_id"],
                s["domain"],
                s["plan"],
                s["state"],
                f"{s['monthly_price_minor']} {s['currency']}",
                ", ".join(s["components"]),
            )
        console.print(table)

    emit(data, as_json=as_json, render=render)


@customers.command("list")
def list_customers(
    ctx: typer.Context,
    limit: int = typer.Option(20, min=1, max=10_000),
    after: str = typer.Option(None, help="Continue after this external id."),
    tier: str = typer.Option(None),
    as_json: bool = JsonOption,
) -> None:
    """Customers in external-id order, a page at a time."""
    with state(ctx).session() as session:
        rows = service.list_customers(session=session, limit=limit, after=after, tier=tier)
        data = [customer_dict(c) for c in rows]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("external id", "name", "e-mail", "locale", "tier", "channels")
        for r in rows:
            table.add_row(
                r["external_id"],
                r["name"],
                r["email"] or "",
                r["locale"],
                r["tier"],
                ", ".join(r["channels"]),
            )
        console.print(table)

    emit(data, as_json=as_json, render=render)


@customers.command("opt-out")
def opt_out(
    ctx: typer.Context,
    external_id: str,
    channel: str = typer.Argument(..., help="email, sms or voice"),
    undo: bool = typer.Option(False, "--undo", help="The customer opted back in."),
) -> None:
    """Record a customer's opt-out from a channel (or, with --undo, their opt-in)."""
    with state(ctx).session() as session:
        service.set_opt_out(
            session=session, external_id=external_id, channel=channel, opted_out=not undo
        )
    console.print(f"{external_id}: {channel} {'opted in' if undo else 'opted out'}")


@subscribers.command("add")
def add_subscriber(
    ctx: typer.Context,
    kind: SubscriberKind,
    address: str,
    component: list[str] = typer.Option(None, "--component", help="Follow only these."),
    locale: str = typer.Option("en"),
    as_json: bool = JsonOption,
) -> None:
    """Add a confirmed subscriber (the operator vouches for them)."""
    with state(ctx).session() as session:
        subscriber = service.add_subscriber(
            session=session,
            kind=kind,
            address=address,
            components=component or [],
            locale=locale,
            confirmed=True,
        )
        data = {
            "id": subscriber.id,
            "kind": str(subscriber.kind),
            "address": subscriber.address,
            "components": [c.key for c in subscriber.components],
        }
    emit(data, as_json=as_json, render=lambda d: console.print(f"subscriber {d['id']} added"))


@subscribers.command("list")
def list_subscribers(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    with state(ctx).session() as session:
        data = [
            {
                "id": s.id,
                "kind": str(s.kind),
                "address": s.address,
                "locale": s.locale,
                "confirmed": s.confirmed,
                "components": [c.key for c in s.components],
            }
            for s in service.list_subscribers(session=session)
        ]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("id", "kind", "address", "components")
        for r in rows:
            table.add_row(
                str(r["id"]), r["kind"], r["address"], ", ".join(r["components"]) or "all"
            )
        console.print(table)

    emit(data, as_json=as_json, render=render)


@subscribers.command("remove")
def remove_subscriber(ctx: typer.Context, subscriber_id: int) -> None:
    with state(ctx).session() as session:
        service.remove_subscriber(session=session, subscriber_id=subscriber_id)
    console.print(f"subscriber {subscriber_id} removed")
