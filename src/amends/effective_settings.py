"""The effective configuration as an admin may see it: every setting's value,
where it came from, and never a secret.

Where a value came from is worked out the way pydantic-settings chose it
(config.Settings: given when amends started, over ``AMENDS_*`` variables, over
``amends.toml``, over the default): the environment and the file are read
again and compared with what the running process holds. A value the process
was started with that matches neither (a command-line option, a test, the
demo) is "set at start".

Masked: ``SecretStr`` settings, any setting whose name says password, token,
secret or key, the password in any URL (``postgresql://u:****@host/db``),
secret-looking query parameters, and Apprise URLs entirely (their path often
*is* the credential). Only "set" or "empty" is said about a masked value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr
from pydantic_settings import EnvSettingsSource, TomlConfigSettingsSource

from amends.config import Settings

MASK = "••••••"
SECRET_NAME = re.compile(
    r"password|passwd|pwd|token|secret|signature|credential|(^|_)(api)?key($|_)|apikey|auth", re.I
)
#: Settings that are credentials as a whole, whatever their name says.
WHOLLY_SECRET = frozenset({"sms_apprise_url"})


@dataclass(frozen=True)
class Shown:
    """One setting as the settings page lists it."""

    name: str
    env: str
    value: str
    source: str
    masked: bool
    description: str


def _mask_url(text: str) -> str:
    """The password (and secret-looking query values) of a URL replaced by the mask."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return text
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = [pair.partition("=") for pair in query.split("&")]
        query = "&".join(
            f"{k}={MASK}" if eq and SECRET_NAME.search(unquote(k)) else f"{k}{eq}{v}"
            for k, eq, v in pairs
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _clean(value: Any, name: str = "") -> tuple[Any, bool]:
    """(value safe to show, whether anything was masked), through lists and dicts."""
    if isinstance(value, SecretStr):
        return (MASK if value.get_secret_value() else ""), True
    if isinstance(value, BaseModel):
        return _clean(value.model_dump(mode="json"), name)
    if isinstance(value, dict):
        out, masked = {}, False
        for key, item in value.items():
            out[key], hid = _clean(item, str(key))
            masked = masked or hid
        return out, masked
    if isinstance(value, list | tuple):
        items = [_clean(item, name) for item in value]
        return [v for v, _ in items], any(h for _, h in items)
    if isinstance(value, str) and value and (SECRET_NAME.search(name) or name in WHOLLY_SECRET):
        scheme = urlsplit(value).scheme if "://" in value else ""
        return (f"{scheme}://{MASK}" if scheme else MASK), True
    if isinstance(value, str) and "://" in value:
        shown = _mask_url(value)
        return shown, shown != value
    return value, False


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _sources() -> tuple[dict[str, Any], dict[str, Any], Settings | None]:
    """What the environment and amends.toml say now, and the settings they alone make."""
    try:
        env = EnvSettingsSource(Settings)()
    except Exception:  # a variable that cannot be read: say nothing about the environment
        env = {}
    try:
        toml = TomlConfigSettingsSource(Settings)()
    except Exception:
        toml = {}
    try:
        alone: Settings | None = Settings()
    except Exception:
        alone = None
    return env, toml, alone


def _source(name: str, settings: Settings, env: dict[str, Any], toml: dict[str, Any],
            alone: Settings | None) -> str:  # fmt: skip
    if name not in settings.model_fields_set:
        return "default"
    if alone is not None and getattr(settings, name) != getattr(alone, name):
        return "set at start"
    if name in env:
        return "environment"
    if name in toml:
        return "amends.toml"
    return "set at start"


def describe(settings: Settings) -> list[Shown]:
    """Every setting, in the order config.Settings declares them."""
    env, toml, alone = _sources()
    prefix = Settings.model_config.get("env_prefix", "")
    rows = []
    for name, field in Settings.model_fields.items():
        value, masked = _clean(getattr(settings, name), name)
        rows.append(
            Shown(
                name=name,
                env=f"{prefix}{name}".upper(),
                value=_text(value),
                source=_source(name, settings, env, toml, alone),
                masked=masked,
                description=field.description or "",
            )
        )
    return rows
