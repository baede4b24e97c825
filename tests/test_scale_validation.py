"""Batched validation (validation_scale.py) gives exactly pySHACL's results on the whole graph.

One store holds the shipped data, every broken fixture that loads (each as its own file) and
two cases for the SHACL-SPARQL constraints that look two hops; both validators run once on
it, and each fixture's findings (focus node, path, value, message, shape, constraint
component, severity) must be the same.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph
from tests.conftest import PROJECT

from lod_publisher import queries
from lod_publisher.errors import SourceError
from lod_publisher.sources import SourceFile, discover, read_quads
from lod_publisher.store.embedded import EmbeddedBackend, write_store
from lod_publisher.uris import UriPolicy
from lod_publisher.validation import Finding, ValidationReport, validate
from lod_publisher.validation_compile import ShapeCompiler, compile_problems, compiled_candidates
from lod_publisher.validation_scale import (
    _focus_candidates,
    _without_sparql,
    batching_problems,
    locality_problems,
    validate_batched,
)

BROKEN = sorted((Path(__file__).parent / "fixtures" / "broken").glob("*"))
BASE = "http://127.0.0.1:8080/"

# Two hops: a quotation reported in another article than its excerpt's; two excerpts of
# one article with the same sentence number.
SPARQL_CASES = """
@prefix com: <ontology/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
<graph/sources> {
  <id/excerpt/zz-sparql-01> a com:Excerpt ; com:sentenceNumber 9 ;
      com:text "Archival research to uncover and honor the stories of these heroes remains ongoing."@en ;
      prov:wasQuotedFrom <id/article/leusden-2025> .
}
<id/excerpt/zz-sparql-01> {
  <id/quotation/zz-misreported> a com:Quotation ; rdfs:label "A misreported quotation"@en ;
      com:quoteText "Never again"@en ; com:speaker <id/person/madi-atamkulov> ;
      com:reportedIn <id/article/xinhua-2020> ;
      prov:wasDerivedFrom <id/excerpt/zz-sparql-01> .
}
"""


def _key(finding: Finding) -> tuple[str, ...]:
    return tuple(
        str(part)
        for part in (
            finding.severity,
            finding.focus,
            finding.path,
            finding.value,
            finding.message,
            finding.shape,
            finding.constraint,
            finding.focus_label,
        )
    )


def _loadable(fixture: Path, policy: UriPolicy) -> bool:
    """Whether the fixture parses into named graphs (some fail before any validation)."""
    try:
        list(read_quads(SourceFile(fixture, "data", None), policy))
    except SourceError:
        return False
    return True


@dataclass(frozen=True)
class Loaded:
    """The shipped data with every loadable broken fixture, in one in-memory store."""

    policy: UriPolicy
    backend: EmbeddedBackend
    shapes: Graph
    ontology: Graph
    fixtures: list[Path]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    policy = UriPolicy(BASE)
    folder = tmp_path_factory.mktemp("scale")
    project = folder / "project"
    for part in ("ontology", "shapes", "data"):
        shutil.copytree(PROJECT / part, project / part)
    fixtures = []
    for fixture in BROKEN:
        if _loadable(fixture, policy):
            shutil.copy(fixture, project / "data" / f"zz-{fixture.name}")
            fixtures.append(fixture)
    (project / "data" / "zz-sparql.trig").write_text(SPARQL_CASES, encoding="utf-8")

    def quads() -> Iterator[ox.Quad]:
        for source in discover(project, policy):
            yield from read_quads(source, policy)

    backend = EmbeddedBackend(write_store(None, quads()))
    shapes: Graph = backend.construct(queries.graph_triples(policy.shapes_graph))
    ontology: Graph = backend.construct(queries.graph_triples(policy.ontology_graph))
    return Loaded(policy, backend, shapes, ontology, fixtures)


@pytest.fixture(scope="module")
def reports(loaded: Loaded) -> tuple[ValidationReport, ValidationReport, list[Path]]:
    data = loaded.backend.construct(queries.data_graph_triples(loaded.policy))
    whole = validate(data, loaded.shapes, loaded.ontology)
    batched = validate_batched(
        loaded.backend.store, loaded.policy, loaded.shapes, loaded.ontology, batch_size=50
    )
    return whole, batched, loaded.fixtures


def test_the_shapes_look_only_one_hop() -> None:
    shapes = Graph().parse(PROJECT / "shapes" / "commemoration.ttl", publicID=BASE)
    assert locality_problems(shapes) == []


def test_blank_node_subjects_keep_the_whole_graph_path() -> None:
    policy = UriPolicy(BASE)
    store = ox.Store()
    store.add(
        ox.Quad(ox.BlankNode(), ox.NamedNode(BASE + "p"), ox.Literal("x"), ox.NamedNode(BASE + "g"))
    )
    assert "the data has blank-node subjects" in batching_problems(store, policy, Graph())


def test_a_complex_path_is_refused() -> None:
    shapes = Graph().parse(
        data="""@prefix sh: <http://www.w3.org/ns/shacl#> .
        <s> a sh:NodeShape ; sh:property [ sh:path ( <a> <b> ) ; sh:minCount 1 ] .""",
        format="turtle",
        publicID=BASE,
    )
    assert any("complex sh:path" in p for p in locality_problems(shapes))


def test_same_findings_as_whole_graph_pyshacl(
    reports: tuple[ValidationReport, ValidationReport, list[Path]],
) -> None:
    whole, batched, _ = reports
    assert sorted(map(_key, batched.findings)) == sorted(map(_key, whole.findings))
    assert batched.conforms == whole.conforms
    assert len(set(batched.graph.subjects(None, None))) > 0


def test_the_two_hop_sparql_constraints_are_found(
    reports: tuple[ValidationReport, ValidationReport, list[Path]],
) -> None:
    _, batched, _ = reports
    sparql = {
        f.focus for f in batched.findings if f.constraint.endswith("SPARQLConstraintComponent")
    }
    assert BASE + "id/quotation/zz-misreported" in sparql
    assert {BASE + "id/excerpt/zz-sparql-01", BASE + "id/excerpt/leusden-2025-09"} <= sparql


# Fixtures that fail while parsing never reach validation: only the others are compared.
VALIDATED = [f for f in BROKEN if _loadable(f, UriPolicy(BASE))]


def test_most_broken_fixtures_reach_validation() -> None:
    assert len(VALIDATED) >= len(BROKEN) - 2


@pytest.mark.parametrize("fixture", VALIDATED, ids=[f.stem for f in VALIDATED])
def test_each_broken_fixture_gets_the_same_findings(
    fixture: Path, reports: tuple[ValidationReport, ValidationReport, list[Path]]
) -> None:
    whole, batched, loaded = reports
    assert fixture in loaded
    text = fixture.read_text(encoding="utf-8")
    mentioned = {f.focus for f in whole.findings if f"<{f.focus.removeprefix(BASE)}>" in text}
    mine = [_key(f) for f in whole.findings if f.focus in mentioned]
    theirs = [_key(f) for f in batched.findings if f.focus in mentioned]
    assert sorted(theirs) == sorted(mine)
    if "expect: Violation" in text:
        assert mine, "a SHACL-stage fixture must produce findings"


SPARQL_COMPONENT = "http://www.w3.org/ns/shacl#SPARQLConstraintComponent"


def test_compiled_queries_find_every_focus_node_with_a_core_finding(
    loaded: Loaded, reports: tuple[ValidationReport, ValidationReport, list[Path]]
) -> None:
    whole, _, _ = reports
    store = loaded.backend.store
    assert compile_problems(store, loaded.policy) == []
    candidates, unsupported = compiled_candidates(
        store, loaded.policy, _without_sparql(loaded.shapes)
    )
    assert unsupported == set()
    flagged = {f.focus for f in whole.findings if f.constraint != SPARQL_COMPONENT}
    assert flagged <= set(candidates)
    # ... and they prune: most focus nodes of the shipped data conform.
    assert len(candidates) < len(_focus_candidates(store, loaded.policy, loaded.shapes)) / 4


def test_the_equivalence_check_catches_a_compiler_that_forgets_sh_class(
    loaded: Loaded,
    reports: tuple[ValidationReport, ValidationReport, list[Path]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The comparison above can fail: compile sh:class as "never violated" and it does."""
    whole, _, _ = reports
    monkeypatch.setattr(ShapeCompiler, "_not_instance_of", lambda self, node, cls: "false")
    weakened = validate_batched(
        loaded.backend.store, loaded.policy, loaded.shapes, loaded.ontology, batch_size=50
    )
    missing = set(map(_key, whole.findings)) - set(map(_key, weakened.findings))
    assert any(key[6].endswith("ClassConstraintComponent") for key in missing)
