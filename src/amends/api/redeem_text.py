"""What the redemption page says, in each language the customers read (es, en).

Kept as one table, apart from the code, so a translator sees every sentence
together; ``{date}`` is filled with Babel's long date in the same language.
"""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your service credit",
        "total": "Total",
        "button": "Apply my credit",
        "fine_print": "The credit goes to your account for future invoices. Nothing else changes.",
        "ready": "This is the credit we owe you for the outage. Press the button to apply it.",
        "automatic": "Nothing to do: this credit is applied to your account automatically from {date}.",
        "not_yet": "Your credit is available from {date}. Come back then: this link stays valid.",
        "already": "This credit was already applied on {date}. Nothing more to do.",
        "redeemed": "Done: the credit has been applied to your account.",
        "nothing": "There is no credit left to apply with this link.",
        "invalid": "This link is not valid or has expired. If you think that is wrong, contact support.",
        "forged": "This form has expired. Open the link from your e-mail again and press the button.",
        "limited": "Too many attempts. Please wait a minute and try again.",
    },
    "es": {
        "title": "Tu crédito de servicio",
        "total": "Total",
        "button": "Aplicar mi crédito",
        "fine_print": "El crédito se descuenta de tus próximas facturas. Nada más cambia.",
        "ready": "Este es el crédito que te debemos por la interrupción. Pulsa el botón para aplicarlo.",
        "automatic": "No tienes que hacer nada: el crédito se aplica automáticamente a tu cuenta desde el {date}.",
        "not_yet": "Tu crédito estará disponible desde el {date}. Vuelve entonces: este enlace sigue siendo válido.",
        "already": "Este crédito ya se aplicó el {date}. No tienes que hacer nada más.",
        "redeemed": "Hecho: el crédito se ha aplicado a tu cuenta.",
        "nothing": "No queda ningún crédito por aplicar con este enlace.",
        "invalid": "Este enlace no es válido o ha caducado. Si crees que es un error, contacta con soporte.",
        "forged": "Este formulario ha caducado. Abre de nuevo el enlace de tu correo y pulsa el botón.",
        "limited": "Demasiados intentos. Espera un minuto y vuelve a intentarlo.",
    },
}
