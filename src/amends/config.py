"""Settings: one validated object built at start-up and passed down.

Read from the environment (``AMENDS_*``) and, when present, ``amends.toml`` in
the working directory. Nothing here connects to anything.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

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
    availability_weights: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "major_outage": Decimal(1),
            "partial_outage": Decimal("0.5"),
            "degraded_performance": Decimal(0),
        },
        description="How much of each minute in a status counts as downtime (0-1).",
    )
    availability_maintenance: Literal["exclude", "count", "shrink"] = Field(
        default="exclude",
        description="Scheduled maintenance: not downtime (exclude), downtime (count), "
        "or not downtime and not measured (shrink).",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where customers reach amends: the base of redemption links.",
    )
    redeem_link_days: int = Field(default=30, ge=1, description="How long a redeem link lives.")
    redeem_rate_per_ip: int = Field(
        default=30, ge=1, description="Redemption page requests per minute from one IP."
    )
    redeem_rate_per_token: int = Field(
        default=10, ge=1, description="Redemption page requests per minute for one link."
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
