"""Every data file the package reads at run time is in the wheel.

An editable install (the tests' own) reads files straight from the source
tree, so a template missing from ``[tool.setuptools.package-data]`` passes
every other test and fails only after ``pip install .`` (as drafted notices'
e-mail frame once did). This checks the source tree against the globs.
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatchcase
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "amends"


def _globs() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs: list[str] = config["tool"]["setuptools"]["package-data"]["amends"]
    return globs


def _shipped(relative: str, globs: list[str]) -> bool:
    """setuptools' ``*`` stops at ``/``: compare part by part."""
    parts = relative.split("/")
    return any(
        len(pattern.split("/")) == len(parts)
        and all(
            fnmatchcase(part, glob) for part, glob in zip(parts, pattern.split("/"), strict=True)
        )
        for pattern in globs
    )


def test_every_data_file_in_the_package_is_shipped() -> None:
    globs = _globs()
    data = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file()
        and path.suffix not in {".py", ".pyc", ".mo"}
        and "__pycache__" not in path.parts
    ]
    assert "messages/drafts/templates/email.html" in data  # the walk sees nested packages
    missing = [name for name in data if not _shipped(name, globs)]
    assert missing == [], f"add these to [tool.setuptools.package-data]: {missing}"


def test_the_globs_match_only_what_setuptools_would() -> None:
    globs = ["console/templates/*.html"]
    assert _shipped("console/templates/base.html", globs)
    assert not _shipped("console/templates/deep/base.html", globs)
    assert not _shipped("messages/drafts/templates/email.html", ["messages/templates/*.html"])
