"""Settings: one validated object built at start-up and passed down.

Read from the environment (``AMENDS_*``) and, when present, ``amends.toml`` in
the working directory. Nothing here connects to anything.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
