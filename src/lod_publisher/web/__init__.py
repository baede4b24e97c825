"""The web layer: a Flask application factory over one published release."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from lod_publisher.settings import Settings, load_settings
from lod_publisher.web.site import Site

# Request headers a cross-origin client may send (answered in every preflight).
_CORS_REQUEST_HEADERS = (
    "Accept, Accept-Language, Content-Type, If-None-Match, If-Modified-Since, Range"
)
# Response headers a cross-origin script may read.
_CORS_EXPOSED_HEADERS = "Content-Location, Link, ETag, Last-Modified, Vary, Content-Length"


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the Flask app serving the current release of ``settings.build_dir``."""
    settings = settings or load_settings(overrides)
    app = Flask(__name__)
    app.extensions["lod"] = Site.open(settings)
    from lod_publisher.web import landing

    for blueprint in (landing.blueprint,):
        app.register_blueprint(blueprint)
    app.after_request(_cors)
    return app


def _cors(response: Response) -> Response:
    """CORS on every response, so browser clients on any origin can read our data."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = _CORS_EXPOSED_HEADERS
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = response.headers.get(
            "Allow", "GET, HEAD, POST, OPTIONS"
        )
        response.headers["Access-Control-Allow-Headers"] = _CORS_REQUEST_HEADERS
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


def site_of(app: Flask) -> Site:
    site: Site = app.extensions["lod"]
    return site
