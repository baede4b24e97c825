"""Cool URIs: every IRI under the base answers 303 to a document chosen by negotiation.

Resources (things) live at ``/id/…``, ``/ontology/…``, ``/shapes/…``, ``/graph/…``;
their documents at ``/doc/<same path>.<ext>`` (https://www.w3.org/TR/cooluris/#r303gendocument).
``/doc/<path>`` without an extension negotiates and names the chosen document in
``Content-Location``.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, redirect, render_template, request
from rdflib import Literal
from rdflib.namespace import XSD
from werkzeug.wrappers import Response

from lod_publisher.describe import Description
from lod_publisher.formats import Format, Kind, by_key, formats_for
from lod_publisher.labels import language_preferences
from lod_publisher.web import site_of
from lod_publisher.web.entity_view import Alternate, build_entity_view
from lod_publisher.web.http import choose_format, not_acceptable, representation, strong_etag
from lod_publisher.web.response_cache import mark_replayable
from lod_publisher.web.site import Site
from lod_publisher.web.vocabulary_view import build_ontology_view, build_shapes_view

blueprint = Blueprint("resources", __name__)

DOCUMENT_FORMATS: tuple[Format, ...] = (by_key("html"), *formats_for(Kind.GRAPH))
_BY_EXTENSION = {f.key: f for f in DOCUMENT_FORMATS}
# Namespaces whose IRI ends in "/" and whose document is the whole vocabulary.
VOCABULARY_DOCUMENTS = ("ontology", "shapes")
_RDFLIB_FORMATS = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml", "nt": "nt"}


def document_name(relative_iri: str) -> str:
    """The document path for a resource path: ``ontology/`` → ``ontology``."""
    return relative_iri[:-1] if relative_iri.endswith("/") else relative_iri


def document_url(site: Site, name: str, fmt: Format) -> str:
    return f"{site.policy.base}doc/{name}.{fmt.key}"


def _resource(relative_iri: str) -> Response:
    site = site_of(current_app)
    name = document_name(relative_iri)
    if name not in VOCABULARY_DOCUMENTS and not site.known(site.policy.base + relative_iri):
        abort(404)
    fmt = choose_format(DOCUMENT_FORMATS)
    if fmt is None:
        return not_acceptable(DOCUMENT_FORMATS)
    response = redirect(document_url(site, name, fmt), code=303)
    response.vary.add("Accept")
    mark_replayable()
    return response


@blueprint.route("/id/<path:rest>")
def entity(rest: str) -> Response:
    return _resource(f"id/{rest}")


@blueprint.route("/graph/<path:rest>")
def graph(rest: str) -> Response:
    return _resource(f"graph/{rest}")


@blueprint.route("/ontology/", defaults={"rest": ""})
@blueprint.route("/ontology/<path:rest>")
def ontology(rest: str) -> Response:
    return _resource(f"ontology/{rest}")


@blueprint.route("/shapes/", defaults={"rest": ""})
@blueprint.route("/shapes/<path:rest>")
def shapes(rest: str) -> Response:
    return _resource(f"shapes/{rest}")


@blueprint.route("/dataset")
def dataset() -> Response:
    """The dataset itself is described by VoID (https://www.w3.org/TR/void/#well-known)."""
    response = redirect("/.well-known/void", code=303)
    response.vary.add("Accept")
    return response


@blueprint.route("/doc/<path:path>")
def document(path: str) -> Response:
    site = site_of(current_app)
    stem, _, extension = path.rpartition(".")
    negotiated = not stem or extension not in _BY_EXTENSION
    if negotiated:
        name = path
        chosen = choose_format(DOCUMENT_FORMATS)
        if chosen is None:
            return not_acceptable(DOCUMENT_FORMATS)
        fmt = chosen
    else:
        name, fmt = stem, _BY_EXTENSION[extension]
    languages = language_preferences(request.headers.get("Accept-Language"))
    vary = ["Accept", "Accept-Language"] if fmt.key == "html" else ["Accept"]
    key = (site.release.build_id, name, fmt.key, ",".join(languages) if fmt.key == "html" else "")
    body = site.cache.get_or_make(key, lambda: _render(site, name, fmt, languages), len)
    alternates = [
        (document_url(site, name, other), "alternate", other.media_type)
        for other in DOCUMENT_FORMATS
        if other is not fmt
    ]
    resource_iri = site.policy.base + name + ("/" if name in VOCABULARY_DOCUMENTS else "")
    mark_replayable()
    return representation(
        body,
        fmt,
        strong_etag(*key),
        site.last_modified,
        vary=vary if negotiated or fmt.key == "html" else (),
        content_location=document_url(site, name, fmt) if negotiated else None,
        links=[*alternates, (resource_iri, "describes", None)],
    )


def _render(site: Site, name: str, fmt: Format, languages: tuple[str, ...]) -> bytes:
    """The bytes of one document; aborts with 404 for a resource the dataset does not know."""
    if name in VOCABULARY_DOCUMENTS:
        return _render_vocabulary(site, name, fmt, languages)
    iri = site.policy.base + name
    description = site.describe(iri)
    if description is None:
        abort(404)
    if fmt.key == "html":
        return _render_page(site, name, description, languages)
    document = description.document(document_url(site, name, fmt), site.policy, _modified(site))
    return _serialize(document, fmt, site)


def _modified(site: Site) -> Literal:
    return Literal(site.last_modified.isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime)


def _serialize(graph: object, fmt: Format, site: Site) -> bytes:
    from rdflib import Graph

    assert isinstance(graph, Graph)
    if fmt.key == "jsonld":
        context = dict(site.policy.prefixes())
        return graph.serialize(format="json-ld", context=context, auto_compact=True).encode()
    return graph.serialize(format=_RDFLIB_FORMATS[fmt.key]).encode()


def _alternates(site: Site, name: str) -> list[Alternate]:
    return [Alternate(f, document_url(site, name, f)) for f in DOCUMENT_FORMATS if f.key != "html"]


def _render_page(
    site: Site, name: str, description: Description, languages: tuple[str, ...]
) -> bytes:
    view = build_entity_view(
        description,
        site.policy,
        languages,
        _alternates(site, name),
        document_url(site, name, by_key("html")),
    )
    return render_template("entity.html", view=view, site=site).encode()


def _render_vocabulary(site: Site, name: str, fmt: Format, languages: tuple[str, ...]) -> bytes:
    graph_iri = site.policy.ontology_graph if name == "ontology" else site.policy.shapes_graph
    graph = site.vocabulary(graph_iri)
    if fmt.key != "html":
        return _serialize(graph, fmt, site)
    builders: dict[str, Callable[..., object]] = {
        "ontology": build_ontology_view,
        "shapes": build_shapes_view,
    }
    view = builders[name](graph, site.policy, languages, _alternates(site, name))
    return render_template(f"{name}.html", view=view, site=site).encode()
