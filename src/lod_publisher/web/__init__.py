"""The web layer: a Flask application factory over one published release."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import BadGateway, GatewayTimeout, HTTPException

from lod_publisher.errors import RemoteError, RemoteTimeout
from lod_publisher.settings import Settings, load_settings
from lod_publisher.web.response_cache import ResponseCache
from lod_publisher.web.site import Site

# Request headers a cross-origin client may send (answered in every preflight).
_CORS_REQUEST_HEADERS = (
    "Accept, Accept-Language, Content-Type, If-None-Match, If-Modified-Since, Range"
)
# Response headers a cross-origin script may read.
_CORS_EXPOSED_HEADERS = (
    "Content-Location, Link, ETag, Last-Modified, Vary, Content-Length, "
    "X-SPARQL-Truncated, X-SPARQL-MaxRows"
)


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the Flask app serving the current release of ``settings.build_dir``."""
    settings = settings or load_settings(overrides)
    app = Flask(__name__, static_url_path="/-/static")
    app.extensions["lod"] = Site.open(settings)
    from lod_publisher.web import browse, downloads, landing, resources, sparql

    for blueprint in (
        landing.blueprint,
        resources.blueprint,
        browse.blueprint,
        downloads.blueprint,
        sparql.blueprint,
    ):
        app.register_blueprint(blueprint)
    app.after_request(_cors)
    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(RemoteError, _store_unavailable)
    app.jinja_env.filters["safe_href"] = safe_href
    app.wsgi_app = ResponseCache(app.wsgi_app)  # type: ignore[method-assign]
    app.wsgi_app = sparql.EndpointApp(sparql.endpoint_of(app), app.wsgi_app)  # type: ignore[method-assign]
    return app


def safe_href(iri: str) -> str | None:
    """The IRI if following it is safe (http or https), else None: ``javascript:`` stays text."""
    return iri if iri.startswith(("http://", "https://")) else None


_ERROR_TITLES = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


def _error_page(error: HTTPException) -> Response:
    """Errors as a page for browsers and as plain text for everyone else; never a traceback."""
    status = error.code or 500
    message = error.description or ""
    if status == 404 and "requested URL was not found" in message:
        message = f"Nothing is known about {request.base_url} in this dataset."
    best = request.accept_mimetypes.best_match(["text/plain", "text/html"], default="text/plain")
    wants_html = best == "text/html" and request.accept_mimetypes["text/html"] > 0
    if wants_html:
        body = render_template(
            "error.html",
            status=status,
            title=_ERROR_TITLES.get(status, error.name),
            message=message,
            site=site_of_current(),
        )
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
    else:
        response = Response(
            f"{status} {error.name}: {message}\n",
            status=status,
            content_type="text/plain; charset=utf-8",
        )
    response.vary.add("Accept")
    for header, value in error.get_headers():
        if header.lower() not in ("content-type", "content-length"):
            response.headers[header] = value
    return response


def _store_unavailable(error: RemoteError) -> Response:
    """The remote store failed: 504 if it did not answer in time, else 502 (RFC 9110 15.6)."""
    if isinstance(error, RemoteTimeout):
        return _error_page(GatewayTimeout(f"The triple store did not answer in time: {error}"))
    return _error_page(BadGateway(f"The triple store failed: {error}"))


def site_of_current() -> Site:
    from flask import current_app

    return site_of(current_app)


def _cors(response: Response) -> Response:
    """CORS on every response, so browser clients on any origin can read our data."""
    for name, value in cors_headers(request.method, response.headers.get("Allow")):
        response.headers[name] = value
    return response


def cors_headers(method: str, allow: str | None) -> list[tuple[str, str]]:
    """The CORS headers of a response to ``method``; ``allow``: its Allow header, if any."""
    headers = [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Expose-Headers", _CORS_EXPOSED_HEADERS),
    ]
    if method == "OPTIONS":  # a preflight
        headers += [
            ("Access-Control-Allow-Methods", allow or "GET, HEAD, POST, OPTIONS"),
            ("Access-Control-Allow-Headers", _CORS_REQUEST_HEADERS),
            ("Access-Control-Max-Age", "86400"),
        ]
    return headers


def site_of(app: Flask) -> Site:
    site: Site = app.extensions["lod"]
    return site
