"""The landing page: what the dataset is, how big, where to get it."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from lod_publisher.web import site_of

blueprint = Blueprint("landing", __name__)


@blueprint.get("/")
def index() -> str:
    site = site_of(current_app)
    manifest = site.release.manifest
    return render_template(
        "landing.html",
        manifest=manifest,
        base=site.policy.base,
        example_query=(
            f"PREFIX com: <{site.policy.ontology}>\n"
            "SELECT ?event ?label WHERE {\n  ?event a com:CommemorativeEvent ; "
            "rdfs:label ?label .\n} LIMIT 10"
        ),
    )
