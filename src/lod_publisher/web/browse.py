"""Browsing for people: the classes with their counts, a class's instances, label search."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, render_template, request
from rdflib import Graph, URIRef

from lod_publisher import queries
from lod_publisher.labels import label_text, language_preferences
from lod_publisher.uris import sparql_iri
from lod_publisher.web import site_of
from lod_publisher.web.entity_view import Link
from lod_publisher.web.site import Site

blueprint = Blueprint("browse", __name__, url_prefix="/-")

PAGE_SIZE = 50


@dataclass(frozen=True)
class ClassCount:
    link: Link
    count: int
    browse_url: str


def _labeller(site: Site) -> tuple[Graph, tuple[str, ...]]:
    languages = language_preferences(request.headers.get("Accept-Language"))
    return site.vocabulary(site.policy.ontology_graph), languages


def class_counts(site: Site) -> list[ClassCount]:
    """Entity classes with instance counts, largest first (shared with the landing page)."""
    ontology, languages = _labeller(site)
    rows = site.backend.select(queries.entities_per_class(site.policy))
    return [
        ClassCount(
            Link(str(r["class"]), label_text(ontology, r["class"], languages), str(r["class"])),
            int(str(r["n"])),
            "/-/class?" + urlencode({"iri": str(r["class"])}),
        )
        for r in rows
    ]


@blueprint.get("/classes")
def classes() -> str:
    site = site_of(current_app)
    return render_template("classes.html", site=site, classes=class_counts(site))


@blueprint.get("/class")
def instances() -> str:
    site = site_of(current_app)
    class_iri = request.args.get("iri", "")
    try:
        sparql_iri(class_iri)
    except ValueError:
        abort(400, description=f"?iri= must be an absolute IRI, got {class_iri!r}")
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        abort(400, description="?page= must be a whole number")
    total = int(str(site.backend.select(queries.instance_count(class_iri))[0]["n"]))
    if total == 0:
        abort(404, description=f"No resource has the class {class_iri}.")
    last_page = (total + PAGE_SIZE - 1) // PAGE_SIZE
    if page > last_page:
        abort(404, description=f"Page {page} is past the last page ({last_page}).")
    rows = site.backend.select(queries.instances(class_iri, PAGE_SIZE, (page - 1) * PAGE_SIZE))
    members = [str(r["s"]) for r in rows]
    index = site.search_index()
    ontology, languages = _labeller(site)
    return render_template(
        "class.html",
        site=site,
        class_link=Link(class_iri, label_text(ontology, URIRef(class_iri), languages), class_iri),
        members=[Link(iri, index.display_label(iri) or iri, iri) for iri in members],
        page=page,
        last_page=last_page,
        total=total,
    )


@blueprint.get("/search")
def search() -> str:
    site = site_of(current_app)
    query = request.args.get("q", "").strip()[:200]
    hits = site.search_index().search(query) if query else []
    return render_template("search.html", site=site, query=query, hits=hits)
