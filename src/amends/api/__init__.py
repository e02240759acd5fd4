"""The REST API: a thin FastAPI shell over the domain services.

Build it with :func:`amends.api.app.create_app`; every route lives under
``/api/v1`` and needs an API key (see :mod:`amends.api.auth`).
"""
