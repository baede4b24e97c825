"""The landing page: what the dataset is, how big, how to query it, where to get it."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template

from lod_publisher import queries
from lod_publisher.void import DESCRIPTION, TITLE, latest_dump_url
from lod_publisher.web import site_of
from lod_publisher.web.browse import class_counts
from lod_publisher.web.entity_view import Link

blueprint = Blueprint("landing", __name__)

EXAMPLES_SHOWN = 6


@blueprint.get("/")
def index() -> str:
    site = site_of(current_app)
    classes = class_counts(site)
    index = site.search_index()
    examples = []
    for row in classes[:EXAMPLES_SHOWN]:
        for hit in site.backend.select(queries.instances(row.link.iri, 1, 0)):
            iri = str(hit["s"])
            examples.append((Link(iri, index.display_label(iri) or iri, iri), row.link.text))
    example_query = (
        f"PREFIX com:  <{site.policy.ontology}>\n"
        "PREFIX prov: <http://www.w3.org/ns/prov#>\n"
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        "# Which article says how many soldiers lie at each memorial, and in which words?\n"
        "SELECT ?memorialLabel ?value ?sentence ?article WHERE {\n"
        "  GRAPH ?excerpt { ?count a com:BurialCount ; com:atPlace ?memorial ; com:value ?value . }\n"
        "  ?memorial rdfs:label ?memorialLabel .\n"
        "  ?excerpt com:text ?sentence ; prov:wasQuotedFrom ?article .\n"
        "}"
    )
    dumps = [
        {**d, "url": latest_dump_url(site.policy, d["filename"])}
        for d in site.release.manifest["dumps"]
    ]
    return render_template(
        "landing.html",
        site=site,
        title=TITLE,
        description=DESCRIPTION,
        manifest=site.release.manifest,
        classes=classes,
        examples=examples,
        example_query=example_query,
        example_query_url="/sparql?" + urlencode({"query": example_query}),
        dumps=dumps,
    )
