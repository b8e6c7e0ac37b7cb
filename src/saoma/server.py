"""The application Saoma serves: the API with the pages mounted beside it.

The API (:mod:`saoma.api.app`) knows nothing of the pages; the pages (:mod:`saoma.web`) use the
API's dependencies. This module sits above both and puts them in one ASGI app.
"""

from __future__ import annotations

from fastapi import FastAPI

from saoma.api.app import create_app as create_api
from saoma.bootstrap import Platform
from saoma.web.routes import router as pages


def create_app(platform: Platform, *, start: bool = True, freeze_heap: bool = False) -> FastAPI:
    """The API and the pages over ``platform`` (started with the app unless ``start`` is off;
    ``freeze_heap``: see :func:`saoma.api.app.create_app`)."""
    app = create_api(platform, start=start, freeze_heap=freeze_heap)
    app.include_router(pages)
    return app
