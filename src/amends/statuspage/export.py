"""The static export: the whole public site as files any web server can serve.

Each file is written to a temporary name in its own directory and renamed over
the old one (``os.replace`` is atomic on POSIX), so a reader sees the old
bytes or the new, never half a file; files whose bytes did not change are not
touched, so a CDN sync after an export uploads only what changed. Files are
not fsync'ed: atomicity towards readers comes from the rename, and after a
crash the next export rewrites whatever differs.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from amends.config import Settings
from amends.statuspage import service
from amends.statuspage.cache import SessionFactory
from amends.statuspage.site import Site

TEMP_PREFIX = ".amends-tmp-"


@dataclass
class ExportResult:
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.written) + self.unchanged


def write_atomically(target: Path, data: bytes) -> bool:
    """Write ``data`` to ``target`` unless it already holds exactly that."""
    try:
        if target.stat().st_size == len(data) and target.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return True


def export_site(site: Site, directory: Path, previous: Site | None = None) -> ExportResult:
    """Write every file of ``site`` under ``directory``.

    With ``previous`` (the site this directory was last exported from),
    incident pages whose incident did not change are not even rendered.
    """
    started = time.perf_counter()
    result = ExportResult()
    root = directory.resolve()
    for path in site.paths():
        if site.same_as(previous, path) and (root / path).is_file():
            result.unchanged += 1
            continue
        data = site.render(path)
        if data is None:  # pragma: no cover - paths() lists only renderable files
            continue
        target = (root / path).resolve()
        if root not in target.parents:
            raise ValueError(f"refusing to write outside the export directory: {path}")
        if write_atomically(target, data):
            result.written.append(path)
        else:
            result.unchanged += 1
    result.seconds = time.perf_counter() - started
    return result


def export(
    *,
    reading: SessionFactory,
    settings: Settings,
    directory: Path,
    previous: Site | None = None,
) -> tuple[ExportResult, Site]:
    with reading() as session:
        site = Site.load(session=session, settings=settings)
    return export_site(site, directory, previous), site


def watch(
    *,
    reading: SessionFactory,
    settings: Settings,
    directory: Path,
    interval: float,
    on_export: Callable[[ExportResult], None] = lambda _r: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Re-export whenever the change token moves; poll every ``interval`` seconds."""
    token: str | None = None
    previous: Site | None = None
    while not should_stop():
        with reading() as session:
            current = service.change_token(session=session)
        if current != token:
            result, previous = export(
                reading=reading, settings=settings, directory=directory, previous=previous
            )
            on_export(result)
            token = current
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(0.2, interval))
