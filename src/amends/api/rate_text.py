"""What the rating page says, in each language the customers read (es, en).

One table apart from the code, so a translator sees every sentence together.
The scale's labels are not here: they come from the message catalogs
(``messages.blocks.rating_labels``), so the page names the points exactly as
the e-mail did. ``{title}`` is the incident's title, ``{date}`` Babel's long
date in the same language.
"""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "How well did we handle this?",
        "about": "About the incident “{title}” of {date}.",
        "legend": "Your answer",
        "comment": "Anything you want to tell us? (optional)",
        "button": "Send my answer",
        "fine_print": "Your answer goes to the team that handled this incident; we use it to do better next time.",
        "ask": "Choose an answer and press the button. A comment is welcome but optional.",
        "current": "Your answer so far: {score} · {label}. You can change it here.",
        "saved": "Thank you: your answer is saved. You can change it any time from the same link.",
        "invalid": "This link is not valid. Nothing was recorded.",
        "forged": "This form has expired. Please press the button again.",
        "limited": "Too many attempts. Please wait a minute and try again.",
        "bad_score": "Please choose an answer from 1 to 5.",
        "too_long": "Your comment is {length} characters long; please keep it to {limit}.",
    },
    "es": {
        "title": "¿Cómo hemos gestionado esta incidencia?",
        "about": "Sobre la incidencia «{title}» del {date}.",
        "legend": "Su respuesta",
        "comment": "¿Quiere contarnos algo más? (opcional)",
        "button": "Enviar mi respuesta",
        "fine_print": "Su respuesta llega al equipo que gestionó esta incidencia; la usamos para hacerlo mejor la próxima vez.",
        "ask": "Elija una respuesta y pulse el botón. Un comentario es bienvenido, pero opcional.",
        "current": "Su respuesta hasta ahora: {score} · {label}. Puede cambiarla aquí.",
        "saved": "Gracias: su respuesta ha quedado guardada. Puede cambiarla cuando quiera desde el mismo enlace.",
        "invalid": "Este enlace no es válido. No se ha registrado nada.",
        "forged": "Este formulario ha caducado. Pulse el botón de nuevo, por favor.",
        "limited": "Demasiados intentos. Espere un minuto y vuelva a intentarlo.",
        "bad_score": "Elija una respuesta del 1 al 5, por favor.",
        "too_long": "Su comentario tiene {length} caracteres; el máximo es {limit}.",
    },
}
