"""The REST API: a thin FastAPI shell over the domain services.

Build it with :func:`amends.api.app.create_app`; every route lives under
``/api/v1`` and, except reading the components and their status, needs an API
key of the right scope (see :mod:`amends.api.auth`). ``docs/api.md`` is the
reference.
"""
