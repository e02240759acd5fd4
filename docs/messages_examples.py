"""Print the examples of docs/messages.md, as the composer produces them today.

.venv/bin/python docs/messages_examples.py > /tmp/examples.md
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.messages_support import DNS_RECORD, credit, godaddy_facts

from amends.facts.kinds import CauseOwner, DataKind, Exposure
from amends.messages.composer import audit_composed, compose
from amends.messages.inputs import Composed, NoticeFacts, Recipient, TrackRecord

SITES = ["tiendadeana.es", "blog.anaperez.es", "fotos-ana.com", "ana-consulting.com", "recetas.es"]
ANA = Recipient("Ana Pérez", "Europe/Madrid")
JOE = Recipient("Joe Miller", "America/Phoenix")


def show(title: str, m: Composed, facts: NoticeFacts, track: TrackRecord | None = None) -> None:
    report = audit_composed(m, facts, track)
    print(f"### {title}\n")
    if m.channel == "email":
        print(f"Subject: **{m.subject}**\n")
    print("```text\n" + m.text.rstrip() + "\n```\n")
    extra = f"; {m.segments} segment(s), {m.encoding}" if m.segments else ""
    verdict = "BLOCKED" if report.blocked else "nothing blocks"
    print(f"Auditor: {verdict} (worst finding: {report.worst.value}{extra}).\n")


def main() -> None:
    f = godaddy_facts()
    two, five = credit(SITES[:2]), credit(SITES)
    show(
        "Apology e-mail, English (Joe, Arizona)",
        compose(
            "apology", f, JOE, "en", "email", credit=two, track_record=DNS_RECORD, sites=SITES[:2]
        ),
        f,
        DNS_RECORD,
    )
    show(
        "Apology e-mail, Spanish (Ana, Madrid)",
        compose(
            "apology", f, ANA, "es", "email", credit=five, track_record=DNS_RECORD, sites=SITES
        ),
        f,
        DNS_RECORD,
    )
    show(
        "Apology SMS, English",
        compose("apology", f, JOE, "en", "sms", credit=two, sites=SITES[:2]),
        f,
    )
    show(
        "Apology SMS, Spanish", compose("apology", f, ANA, "es", "sms", credit=five, sites=SITES), f
    )
    show(
        "Apology voice script, English",
        compose("apology", f, JOE, "en", "voice", credit=two, sites=SITES[:2]),
        f,
    )
    show(
        "Apology voice script, Spanish",
        compose("apology", f, ANA, "es", "voice", credit=five, sites=SITES),
        f,
    )
    leak = dataclasses.replace(
        godaddy_facts(),
        exposure=Exposure.confirmed,
        exposure_signed_off_by=None,
        exposed_data=[DataKind.passwords, DataKind.payment_cards],
        cause_owner=CauseOwner.attack,
        title={
            "en": "unauthorised access to customer accounts",
            "es": "acceso no autorizado a cuentas de clientes",
        },
        root_cause={
            "en": "an attacker used a flaw in our control panel to read account records",
            "es": "un atacante usó un fallo de nuestro panel de control para leer "
            "registros de cuentas",
        },
        actions_taken=[
            {
                "en": "We closed the flaw within two hours.",
                "es": "Cerramos el fallo en menos de dos horas.",
            },
            {
                "en": "We forced a password reset on every affected account.",
                "es": "Forzamos el cambio de contraseña en todas las cuentas afectadas.",
            },
        ],
        actions_planned=[
            {
                "en": "have an outside firm review the control panel",
                "es": "encargar a una empresa externa la revisión del panel de control",
            }
        ],
    )
    show(
        "Breach notice e-mail, English",
        compose("breach_notice", leak, JOE, "en", "email", sites=SITES[:2]),
        leak,
    )
    show(
        "Breach notice e-mail, Spanish",
        compose("breach_notice", leak, ANA, "es", "email", sites=SITES),
        leak,
    )
    show(
        "Breach notice SMS, Spanish",
        compose("breach_notice", leak, ANA, "es", "sms", sites=SITES),
        leak,
    )
    show(
        "The apology's data step when exposure is confirmed (English)",
        compose("apology", leak, JOE, "en", "email", credit=two, sites=SITES[:2]),
        leak,
    )
    ongoing = godaddy_facts(resolved_at=None)
    show(
        "First notice SMS, English",
        compose("first_notice", ongoing, JOE, "en", "sms", sites=SITES[:2]),
        ongoing,
    )


if __name__ == "__main__":
    main()
