"""Settings: one validated object built at start-up and passed down.

Read from the environment (``AMENDS_*``) and, when present, ``amends.toml`` in
the working directory. Nothing here connects to anything.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'amends.db'}"


class StatusPageLink(BaseModel):
    """A link in the status page's header (support, home page, Twitter...)."""

    label: str
    url: str


class StatusPageSpec(BaseModel):
    """One more public page showing only some components (a brand, an audience).

    Served under ``/pages/<slug>/`` with its own JSON API, feeds and badges.
    """

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str
    components: list[str] = Field(description="Component keys shown on this page.")


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

    # The public status page (statuspage/): no personal data ever reaches it.
    statuspage_name: str = "Service status"
    statuspage_url: str = Field(
        default="http://127.0.0.1:8000/",
        description="Public base URL of the status page (feeds, shortlinks, page.url).",
    )
    statuspage_logo_url: str | None = None
    statuspage_colours: dict[str, str] = Field(
        default_factory=dict,
        description="CSS colours by name: accent, operational, degraded_performance, "
        "partial_outage, major_outage, under_maintenance, background, text.",
    )
    statuspage_links: list[StatusPageLink] = Field(default_factory=list)
    statuspage_footer: str = ""
    statuspage_css_file: Path | None = Field(
        default=None, description="A CSS file served as assets/custom.css after ours."
    )
    statuspage_time_zone: str = "Etc/UTC"
    statuspage_history_days: int = Field(default=90, ge=7, le=366)
    statuspage_pages: list[StatusPageSpec] = Field(default_factory=list)
    statuspage_cache_seconds: float = Field(
        default=1.0, ge=0, description="How often the dynamic pages check for changes."
    )
    statuspage_export_dir: Path | None = Field(
        default=None, description="When set, `amends serve` keeps a static export here."
    )
    statuspage_export_interval: float = Field(default=2.0, gt=0)

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
