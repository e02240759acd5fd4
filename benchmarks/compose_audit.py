"""How fast the composer and the auditor are, per message, on one core.

    .venv/bin/python benchmarks/compose_audit.py [N]

Yardstick, measured in the same run: ``string.Template.substitute`` of the
already-composed English apology with the customer's name — the cheapest
possible "personalisation" (what a mail-merge does). The ratio says what the
real personalisation (sites, money, dates in the customer's zone, plural
forms, the HTML) costs over that.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from string import Template

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.messages_support import DNS_RECORD, credit, godaddy_facts

from amends.messages.composer import audit_composed, compose
from amends.messages.inputs import Recipient

ZONES = ["Europe/Madrid", "America/Phoenix", "America/Mexico_City", "UTC"]


def main(n: int) -> None:
    facts = godaddy_facts()
    people = [
        (
            Recipient(f"Customer {i}", ZONES[i % 4]),
            "es" if i % 2 else "en",
            [f"site{i}-{k}.example" for k in range(1 + i % 3)],
        )
        for i in range(n)
    ]
    offers = [credit(sites) for _, _, sites in people]

    sample = compose(
        "apology", facts, people[0][0], "en", "email", credit=offers[0], sites=people[0][2]
    ).text
    template = Template(sample.replace("$", "$$").replace("Customer 0", "$name"))
    start = time.perf_counter()
    for person, _, _ in people:
        template.substitute(name=person.name)
    yardstick = (time.perf_counter() - start) / n

    rounds = []
    messages = []
    for _ in range(3):
        messages = []
        start = time.perf_counter()
        for (person, lang, sites), offer in zip(people, offers, strict=True):
            messages.append(
                compose(
                    "apology",
                    facts,
                    person,
                    lang,
                    "email",
                    credit=offer,
                    track_record=DNS_RECORD,
                    sites=sites,
                )
            )
        rounds.append((time.perf_counter() - start) / n)
    per_compose = statistics.median(rounds)

    start = time.perf_counter()
    for message in messages:
        assert not audit_composed(message, facts, DNS_RECORD).blocked
    per_audit = (time.perf_counter() - start) / n

    start = time.perf_counter()
    for (person, lang, sites), offer in zip(people, offers, strict=True):
        compose("apology", facts, person, lang, "sms", credit=offer, sites=sites)
    per_sms = (time.perf_counter() - start) / n

    print(f"messages: {n} (half es, half en; 1-3 sites; 4 time zones)")
    print(f"yardstick Template.substitute: {yardstick * 1e6:8.1f} µs/msg")
    print(
        f"compose apology e-mail (text+HTML): {per_compose * 1e6:8.1f} µs/msg "
        f"= {1 / per_compose:8.0f} msg/s ({per_compose / yardstick:.0f}x the yardstick)"
    )
    print(f"compose apology SMS: {per_sms * 1e6:8.1f} µs/msg = {1 / per_sms:8.0f} msg/s")
    print(f"audit one composed e-mail: {per_audit * 1e6:8.1f} µs/msg = {1 / per_audit:8.0f} msg/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
