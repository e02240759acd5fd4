"""Settings: one validated object built at start-up and passed down.

Read from the environment (``AMENDS_*``) and, when present, ``amends.toml`` in
the working directory. Nothing here connects to anything.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
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
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="amends' public address: status page, links in notices (unsubscribe, "
        "redeem), provider status callbacks.",
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

    # Delivery: SMS, voice, webhooks, chat (delivery/channels). Rates are per
    # process: with several workers, give each its share of the provider's cap.
    sms_provider: str = Field(
        default="twilio", description="twilio (REST API) or apprise (sms_apprise_url)."
    )
    sms_apprise_url: str = Field(
        default="",
        description="Apprise URL for other SMS providers, with {to} for the number, "
        "e.g. vonage://key:secret@15551230000/{to}",
    )
    sms_per_second: float = Field(default=10.0, gt=0, description="SMS sent per second, at most.")
    sms_per_day: int | None = Field(default=None, gt=0, description="Daily SMS quota (UTC day).")
    sms_max_segments: int = Field(default=2, ge=1, le=10)
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from: str = Field(default="", description="Sender number (E.164) or alphanumeric id.")
    twilio_messaging_service_sid: str = Field(
        default="", description="Used instead of twilio_from when set."
    )
    twilio_base_url: str = "https://api.twilio.com"
    voice_per_second: float = Field(default=1.0, gt=0, description="Calls started per second.")
    voice_per_day: int | None = Field(default=None, gt=0)
    voice_name: str = Field(default="", description="Twilio <Say> voice, e.g. Polly.Lucia.")
    voice_languages: dict[str, str] = Field(
        default_factory=lambda: {"es": "es-ES", "en": "en-US"},
        description="Message locale → <Say language>.",
    )
    webhook_secret: SecretStr = Field(
        default=SecretStr(""), description="Standard Webhooks signing secret (whsec_…)."
    )
    webhook_timeout: float = Field(default=10.0, gt=0, description="Seconds per webhook POST.")
    webhook_per_second: float | None = Field(default=None, gt=0)
    webhook_disable_after: int = Field(
        default=10, ge=1, description="Consecutive failures before an endpoint is disabled."
    )
    chat_per_second: float | None = Field(default=1.0, gt=0)
    http_concurrency: int = Field(default=50, ge=1, description="Requests in flight per channel.")
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
    redeem_rate_per_ip: int = Field(
        default=30, ge=1, description="Redemption page requests per minute from one IP."
    )
    redeem_rate_per_token: int = Field(
        default=10, ge=1, description="Redemption page requests per minute for one link."
    )
    subscribe_rate_per_ip: int = Field(
        default=10, ge=1, description="Status page subscription requests per minute from one IP."
    )

    intake_rules_file: Path | None = Field(
        default=None,
        description="TOML rules mapping monitoring alerts to components (docs/intake.md); "
        "none: an alert's `component` label names the component.",
    )

    # The operator console (console/, users/).
    console_session_hours: float = Field(
        default=12, gt=0, description="A console session ends this long after sign-in."
    )
    console_idle_minutes: float = Field(
        default=30, gt=0, description="A console session ends after this long without a request."
    )
    console_login_rate_per_ip: int = Field(
        default=10, ge=1, description="Console sign-in attempts per minute from one IP."
    )
    console_two_person_rule: bool = Field(
        default=False,
        description="An apology or breach notice sent from the console, and a drafted notice "
        "sent from the console, the API or the CLI, needs a request by one person and the "
        "approval of another.",
    )

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
    statuspage_subscriptions: list[Literal["email", "sms", "webhook"]] = Field(
        default=["email", "sms", "webhook"],
        description="Ways visitors may subscribe on the status page (empty: no form). "
        "Offer sms only with an SMS provider configured: its confirmation goes by SMS.",
    )
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
