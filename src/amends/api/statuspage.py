"""The public status page over HTTP: pages, ``/api/v2/*.json``, feeds, badges.

No API key, no personal data. Every response is bytes from the site cache
(statuspage/cache.py); the only blocking work — checking the change token at
most once a second, rendering a file the first time — runs in a worker thread.
"""

from __future__ import annotations

import functools

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from amends.config import Settings
from amends.db import unit_of_work
from amends.statuspage.cache import SiteCache
from amends.statuspage.render import LANGUAGES, negotiate
from amends.statuspage.site import media_type

CACHE_CONTROL = "public, max-age=5"
NOT_FOUND = Response(b"Not found\n", status_code=404, media_type="text/plain")


def install(app: FastAPI, settings: Settings) -> SiteCache:
    """Attach the cache and the routes; call after the API routers (catch-all last).

    Plain Starlette routes, not FastAPI operations: they take no validated
    input, and skipping FastAPI's parameter machinery is a third of the cost
    of answering ``summary.json`` from memory. The two hot routes go first so
    a stampede does not walk the admin API's routes; the catch-all goes last.
    """
    cache = SiteCache(settings, functools.partial(unit_of_work, app.state.read_sessions))
    app.state.statuspage = cache
    app.router.routes.insert(0, Route("/api/v2/{name:path}", statuspage_api, methods=["GET"]))
    app.router.routes.insert(0, Route("/", home, methods=["GET"]))
    for lang in LANGUAGES:  # the pages people load during an outage
        app.router.routes.insert(0, Route(f"/{lang}/{{rest:path}}", language_page, methods=["GET"]))
    # Everything else the status page serves is the router's fallback, so
    # routes added later (plugins, tests) still win over it.
    not_found = app.router.default

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or path.startswith("/api/v1/")
        ):
            await not_found(scope, receive, send)
            return
        request = Request(scope, receive)
        response = await public_file(request, path.removeprefix("/"))
        await response(scope, receive, send)

    app.router.default = fallback
    return cache


async def _serve(request: Request, path: str, lang: str | None = None) -> Response:
    cache: SiteCache = request.app.state.statuspage
    hit, data = (False, None) if cache.stale() else cache.cached(path, lang)
    if not hit:
        data = await run_in_threadpool(cache.get, path, lang)
    if data is None:
        return NOT_FOUND
    headers = {"Cache-Control": CACHE_CONTROL}
    if lang is not None:
        headers["Vary"] = "Accept-Language"
        headers["Content-Language"] = lang
    return Response(data, media_type=media_type(path), headers=headers)


def _chosen_language(request: Request) -> str:
    settings: Settings = request.app.state.settings
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    return negotiate(request.headers.get("accept-language"), settings.default_locale)


async def home(request: Request) -> Response:
    return await _serve(request, "index.html", _chosen_language(request))


async def statuspage_api(request: Request) -> Response:
    return await _serve(request, "api/v2/" + request.path_params["name"])


async def language_page(request: Request) -> Response:
    return await public_file(request, request.url.path.removeprefix("/"))


async def public_file(request: Request, path: str) -> Response:
    if ".." in path.split("/"):
        return NOT_FOUND
    if path == "" or path.endswith("/"):
        path += "index.html"
    if path.startswith("pages/") and path.count("/") == 2 and path.endswith("/index.html"):
        return await _serve(request, path, _chosen_language(request))
    return await _serve(request, path)
