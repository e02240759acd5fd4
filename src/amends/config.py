"""Settings: one validated object built at start-up and passed down.

Read from the environment (``AMENDS_*``) and, when present, ``amends.toml`` in
the working directory. Nothing here connects to anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'amends.db'}"


class Settings(BaseSettings):
    """Everything amends needs to know about where it runs."""

    model_config = SettingsConfigDict(env_prefix="AMENDS_", toml_file="amends.toml", extra="ignore")

    database_url: str = Field(
        default_factory=_default_database_url,
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db",
    )
    auto_migrate: bool = Field(
        default=True, description="Apply database migrations when amends starts."
    )
    default_locale: str = "en"
    supported_locales: tuple[str, ...] = ("en", "es")
    default_timezone: str = "UTC"
    clock_skew_seconds: int = Field(
        default=300,
        description="How far in the future a reported start time may lie (clock skew).",
    )
    import_batch_rows: int = Field(default=50_000, ge=1000)
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where people follow an incident; links in notices point here.",
    )
    notice_sender: str = Field(default="Your provider", description="Who signs notices.")
    dispatch: str = Field(
        default="inline",
        description="inline: send from this process; distributed: enqueue Procrastinate "
        "jobs for `amends worker` (PostgreSQL only); off: only write the ledger.",
    )

    # E-mail: the provider's SMTP relay that carries notices (delivery/channels/email.py).
    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay host name or address.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port: 587, 465 or 25.")
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user; none: no AUTH.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password.")
    smtp_starttls: Literal["required", "opportunistic", "off", "implicit"] = Field(
        default="opportunistic",
        description=(
            "required: STARTTLS or fail; opportunistic: STARTTLS when offered; "
            "off: plaintext; implicit: TLS from the first byte (port 465)."
        ),
    )
    smtp_ca_file: Path | None = Field(
        default=None, description="CA bundle that signs the relay's certificate (private CA)."
    )
    smtp_connections: int = Field(
        default=8, ge=1, le=512, description="Persistent SMTP connections per sending process."
    )
    smtp_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for a reply.")
    mail_from: str = Field(
        default="notices@example.invalid", description="Envelope sender and From address."
    )
    mail_from_name: str = Field(default="", description="Display name in From (UTF-8 is fine).")
    message_id_domain: str = Field(
        default="amends.invalid", description="Right-hand side of every Message-ID we make."
    )
    unsubscribe_mailto: str | None = Field(
        default=None,
        description="Address for mailto: List-Unsubscribe, next to the one-click https URL.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
