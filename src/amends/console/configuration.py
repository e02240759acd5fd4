"""The settings page: the configuration this process runs with, read-only.

Each setting with its ``AMENDS_*`` variable, its value and where it came from
(start-up, the environment, amends.toml, the default); secrets are masked by
amends.effective_settings and never reach the page. Changing a setting is
done where it was set, and takes a restart.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from amends.console.access import Guard, OperatorDep
from amends.console.pages import render
from amends.effective_settings import describe

router = APIRouter(include_in_schema=False, dependencies=[Guard])


@router.get("/console/settings")
def settings_page(request: Request, me: OperatorDep) -> Response:
    return render(request, "settings.html", me, rows=describe(request.app.state.settings))
