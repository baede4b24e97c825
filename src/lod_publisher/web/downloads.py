"""Downloads and dataset descriptions: dumps (versioned and latest), VoID, validation report."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from rdflib import Graph
from werkzeug.wrappers import Response

from lod_publisher.formats import Format, Kind, by_key, formats_for
from lod_publisher.releases import Release, find_release
from lod_publisher.void import dump_url, latest_dump_url
from lod_publisher.web import site_of
from lod_publisher.web.http import choose_format, not_acceptable, representation, strong_etag
from lod_publisher.web.site import Site

blueprint = Blueprint("downloads", __name__)

_GZIP = Format("gz", "application/gzip", "gzip", frozenset(), textual=False)
VOID_FORMATS: tuple[Format, ...] = formats_for(Kind.GRAPH)
_RDFLIB = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml", "nt": "nt"}


@blueprint.get("/dumps/")
def index() -> str:
    site = site_of(current_app)
    release = site.release
    dumps = [
        {
            **dump,
            "url": dump_url(site.policy, release.build_id, dump["filename"]),
            "latest": latest_dump_url(site.policy, dump["filename"]),
            "name": by_key(dump["format_key"]).name,
        }
        for dump in release.manifest["dumps"]
    ]
    return render_template("dumps.html", site=site, dumps=dumps)


def _dump_format(filename: str) -> Format:
    if filename.endswith(".gz"):
        return _GZIP
    if filename == "SHA256SUMS":
        return Format("sums", "text/plain", "checksums", frozenset())
    return by_key(filename.rsplit(".", 1)[-1])


def _send_dump(release: Release, filename: str, site: Site) -> Response:
    if filename not in release.dump_names():
        abort(404)
    body = (release.dumps_path / filename).read_bytes()
    sha = next((d["sha256"] for d in release.manifest["dumps"] if d["filename"] == filename), None)
    response = representation(
        body,
        _dump_format(filename),
        sha or strong_etag(release.build_id, filename),
        site.last_modified,
        vary=(),
        links=[(dump_url(site.policy, release.build_id, filename), "canonical", None)],
        max_age=3600,
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.get("/dumps/latest/<filename>")
def latest(filename: str) -> Response:
    site = site_of(current_app)
    return _send_dump(site.release, filename, site)


@blueprint.get("/dumps/<build_id>/<filename>")
def versioned(build_id: str, filename: str) -> Response:
    """A dump of a given build, for as long as that build is kept on disk."""
    site = site_of(current_app)
    release = find_release(site.settings.build_dir, build_id)
    if release is None:
        abort(
            404, description=f"Build {build_id} is not available; see /dumps/ for the current one."
        )
    return _send_dump(release, filename, site)


def _turtle_file(site: Site, filename: str, key: str) -> Response:
    """A Turtle file of the release, served in any RDF format by negotiation."""
    fmt = choose_format(VOID_FORMATS)
    if fmt is None:
        return not_acceptable(VOID_FORMATS)
    cache_key = (site.release.build_id, key, fmt.key)

    def render() -> bytes:
        graph = Graph()
        graph.parse(site.release.path / filename, format="turtle")
        if fmt.key == "jsonld":
            return graph.serialize(
                format="json-ld", context=dict(site.policy.prefixes()), auto_compact=True
            ).encode()
        return graph.serialize(format=_RDFLIB[fmt.key]).encode()

    body = site.cache.get_or_make(cache_key, render, len)
    return representation(body, fmt, strong_etag(*cache_key), site.last_modified)


@blueprint.get("/.well-known/void")
def void() -> Response:
    site = site_of(current_app)
    return _turtle_file(site, "void.ttl", "void")


@blueprint.get("/-/validation-report")
def validation_report() -> Response:
    site = site_of(current_app)
    return _turtle_file(site, "validation-report.ttl", "validation-report")
