"""SHACL validation of millions of triples: pySHACL per batch of focus nodes, on their neighbourhood.

The shapes stay the single source of truth and pySHACL still produces every result; what
changes is the data graph it sees. Two observations make that sound and fast:

1. Every shape in ``shapes/`` looks at most one hop from its focus node
   (https://www.w3.org/TR/shacl/#focusNodes): its own triples, the ``rdf:type`` of the nodes
   it points at (``sh:class``, ``sh:node`` on a type-only shape), and incoming triples of
   the few predicates used in ``sh:inversePath`` or ``sh:targetObjectsOf`` (with the types of
   their subjects where a shape reads them). So a batch of focus nodes is validated on the
   CONSTRUCT of exactly that neighbourhood, with the ontology as ``ont_graph`` as in
   :func:`validation.validate`, keeping the results whose focus node is in the batch (the
   neighbours' results are incomplete and dropped; pySHACL's ``focus_nodes`` option cannot
   do this, see :func:`_run`). :func:`batching_problems` checks the shapes for anything that
   would look further, and the data for blank-node subjects; then the build falls back to
   whole-graph pySHACL.
2. pySHACL re-parses the query of a SHACL-SPARQL constraint (https://www.w3.org/TR/shacl/#sparql-constraints)
   for every focus node, which is most of its time. The batches therefore run the shapes
   without their ``sh:sparql`` constraints; each constraint's query is first run once on
   pyoxigraph with ``$this`` free (a superset of the violating focus nodes, since the queries
   are monotone), and only those candidates are validated by pySHACL with the full shapes,
   keeping the results of ``sh:SPARQLConstraintComponent``. The two SHACL-SPARQL constraints
   that look two hops (the excerpt's article; other excerpts of the same article) are the
   known ones listed in ``KNOWN_SPARQL``, and the neighbourhood includes what they read.
3. Most focus nodes conform, and pySHACL costs milliseconds each. So only candidates are
   validated: the focus nodes that validation_compile.py's SPARQL translation of the SHACL
   Core constraints finds on the whole store (a superset of those with a result; any
   construct it cannot translate makes all targets of its shape candidates). Results about
   a value node (``sh:detail``) travel with their parent result.

tests/test_scale_validation.py checks the results equal whole-graph pySHACL on the shipped
data and on every broken fixture, and that the check fails for a compiler that forgets a
constraint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import cast

import pyoxigraph as ox
import pyshacl
from rdflib import RDF, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from lod_publisher.store.embedded import to_rdflib
from lod_publisher.uris import PROV, UriPolicy, sparql_iri
from lod_publisher.validation import SH, Finding, ValidationReport, _finding
from lod_publisher.validation_compile import compile_problems, compiled_candidates

BATCH_SIZE = 2000  # focus nodes per pySHACL run: memory per batch stays in the megabytes
BATCHED_ABOVE = 50_000  # statements in data graphs above which the build validates in batches

# The SHACL-SPARQL queries of shapes/ (whitespace-normalised), each with the query that finds
# its candidate focus nodes on pyoxigraph: the same patterns and filters with $this free,
# ordered so that oxigraph joins the selective patterns first (it keeps the written order).
_QUOTED = "<http://www.w3.org/ns/prov#wasQuotedFrom>"
_DERIVED = "<http://www.w3.org/ns/prov#wasDerivedFrom>"
KNOWN_SPARQL = {
    # Dates between 1900 and 2030: the focus node's own values.
    "SELECT $this ?value WHERE { $this $PATH ?value . BIND(<http://www.w3.org/2001/XMLSchema#integer>(SUBSTR(STR(?value), 1, 4)) AS ?year) FILTER(!BOUND(?year) || ?year < 1900 || ?year > 2030) }": (
        "SELECT DISTINCT ?this WHERE { ?this $PATH ?value . "
        "BIND(<http://www.w3.org/2001/XMLSchema#integer>(SUBSTR(STR(?value), 1, 4)) AS ?year) "
        "FILTER(!BOUND(?year) || ?year < 1900 || ?year > 2030) }"
    ),
    # com:reportedIn is the excerpt's article: reads the excerpt's prov:wasQuotedFrom.
    f"SELECT $this ?value WHERE {{ $this $PATH ?value ; {_DERIVED} ?excerpt . ?excerpt {_QUOTED} ?article . FILTER(?article != ?value) }}": (
        f"SELECT DISTINCT ?this WHERE {{ ?this $PATH ?value ; {_DERIVED} ?excerpt . "
        f"?excerpt {_QUOTED} ?article . FILTER(?article != ?value) }}"
    ),
    # Unique sentence numbers per article: reads the other excerpts of the same article.
    # Grouped, not a self-join: pairs of excerpts per article grow with its square.
    f"SELECT $this ?value WHERE {{ $this $PATH ?value ; {_QUOTED} ?article . ?other $PATH ?value ; {_QUOTED} ?article . FILTER(?other != $this) }}": (
        f"SELECT DISTINCT ?this WHERE {{ {{ SELECT ?article ?value WHERE {{ ?x {_QUOTED} ?article ; "
        "$PATH ?value } GROUP BY ?article ?value HAVING(COUNT(DISTINCT ?x) > 1) } "
        f"?this {_QUOTED} ?article ; $PATH ?value }}"
    ),
}
_VALUE_CONTEXT = (SH["or"], SH["and"], SH.xone)
_SPARQL_COMPONENT = str(SH.SPARQLConstraintComponent)

Progress = Callable[[int, int], None]  # (focus nodes done, focus nodes in all)


def _normalise(query: str) -> str:
    return re.sub(r"\s+", " ", query).strip()


def locality_problems(shapes: Graph) -> list[str]:
    """Why the shapes may look further than the neighbourhood this module builds (empty: fine)."""
    problems: list[str] = []
    for path in set(shapes.objects(None, SH.path)):
        if isinstance(path, URIRef):
            continue
        inverse = shapes.value(path, SH.inversePath)
        if not isinstance(inverse, URIRef) or len(set(shapes.predicate_objects(path))) != 1:
            problems.append(f"complex sh:path {path}")
    for query in shapes.objects(None, SH.select):
        if _normalise(str(query)) not in KNOWN_SPARQL:
            problems.append(f"unknown SHACL-SPARQL query {_normalise(str(query))[:60]}")
    for term in (SH.ask, SH.target, SH.rule, SH.equals, SH.disjoint, SH.lessThan):
        if (None, term, None) in shapes:
            problems.append(f"{term} is not handled by batched validation")
    # Shapes applied to value nodes (sh:node, sh:qualifiedValueShape, and the members of
    # sh:or/sh:and/sh:xone/sh:not under a property shape) may only read the value's type.
    value_shapes: list[Node] = [
        *shapes.objects(None, SH.node),
        *shapes.objects(None, SH.qualifiedValueShape),
    ]
    for property_shape in set(shapes.subjects(SH.path, None)):
        for logical in _VALUE_CONTEXT:
            for members in shapes.objects(property_shape, logical):
                value_shapes += list(Collection(shapes, members))
        value_shapes += list(shapes.objects(property_shape, SH["not"]))
    seen: set[Node] = set()
    while value_shapes:
        shape = value_shapes.pop()
        if shape in seen:
            continue
        seen.add(shape)
        read = shapes.value(shape, SH.path)
        if read is not None and read != RDF.type:
            problems.append(f"shape {shape} on value nodes reads {read}")
        for nested in shapes.objects(shape, SH.property):
            value_shapes.append(nested)
        for logical in _VALUE_CONTEXT:
            for members in shapes.objects(shape, logical):
                value_shapes += list(Collection(shapes, members))
        value_shapes += [*shapes.objects(shape, SH["not"]), *shapes.objects(shape, SH.node)]
        if (shape, SH.sparql, None) in shapes:
            problems.append(f"shape {shape} on value nodes has a SPARQL constraint")
    return sorted(problems)


def batching_problems(store: ox.Store, policy: UriPolicy, shapes: Graph) -> list[str]:
    """Why this store cannot be validated in batches (empty: it can).

    Besides :func:`locality_problems`, blank-node subjects: a batch names its focus nodes
    in a VALUES clause, which cannot name a blank node.
    """
    excluded = ", ".join(sparql_iri(g) for g in (policy.ontology_graph, policy.shapes_graph))
    blank = store.query(
        f"ASK {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(isBlank(?s) && ?g NOT IN ({excluded})) }}"
    )
    problems = locality_problems(shapes)
    if bool(blank):
        problems.append("the data has blank-node subjects")
    return problems


def _incoming_predicates(shapes: Graph) -> list[str]:
    """Predicates whose incoming triples a focus node needs: inverse paths, object targets."""
    found = {str(p) for p in shapes.objects(None, SH.inversePath)}
    found |= {str(p) for p in shapes.objects(None, SH.targetObjectsOf)}
    return sorted(found)


_READS_TYPES = (SH["class"], SH.node, SH.qualifiedValueShape, *_VALUE_CONTEXT, SH["not"])


def _typed_incoming_predicates(shapes: Graph) -> list[str]:
    """Inverse-path predicates whose subjects' types a shape reads (``sh:class`` and the like).

    Only those subjects get their ``rdf:type`` in the neighbourhood: an untyped neighbour is
    no target, so pySHACL does not spend time validating (and we discarding) it.
    """
    found: set[str] = set()
    for path, predicate in shapes.subject_objects(SH.inversePath):
        for shape in shapes.subjects(SH.path, path):
            if any((shape, term, None) in shapes for term in _READS_TYPES):
                found.add(str(predicate))
    return sorted(found)


def _without_sparql(shapes: Graph) -> Graph:
    core = Graph()
    for prefix, namespace in shapes.namespaces():
        core.bind(prefix, namespace)
    for triple in shapes:
        if triple[1] != SH.sparql:
            core.add(triple)
    return core


class _Neighbourhoods:
    """CONSTRUCTs, from the store, the part of the data graph a batch of focus nodes needs."""

    def __init__(
        self, store: ox.Store, policy: UriPolicy, incoming: list[str], typed: list[str]
    ) -> None:
        self.store = store
        excluded = ", ".join(sparql_iri(g) for g in (policy.ontology_graph, policy.shapes_graph))
        keep = f"FILTER(?g NOT IN ({excluded}))"
        keep2 = keep.replace("?g", "?g2")
        quoted = sparql_iri(f"{PROV}wasQuotedFrom")
        number = sparql_iri(policy.ontology + "sentenceNumber")

        # One UNION branch per predicate: oxigraph then looks each up by index.
        def union(predicates: list[str]) -> str:
            branches = " UNION ".join(
                f"{{ GRAPH ?g {{ ?s {sparql_iri(p)} ?f }} BIND({sparql_iri(p)} AS ?p) }}"
                for p in predicates
            )
            return (branches or "{ GRAPH ?g { ?s ?p ?f } FILTER(false) }") + " "

        incoming_union, typed_union = union(incoming), union(typed)
        self.templates = (
            # The focus nodes' own triples.
            "CONSTRUCT { ?f ?p ?o } WHERE { VALUES ?f { %s } GRAPH ?g { ?f ?p ?o } " + keep + " }",
            # Type (and article, for excerpts) of every node they point at.
            "CONSTRUCT { ?o ?q ?v } WHERE { { SELECT DISTINCT ?o WHERE { VALUES ?f { %s } "
            "GRAPH ?g { ?f ?p ?o } FILTER(!isLiteral(?o)) } } "
            f"VALUES ?q {{ <{RDF.type}> {quoted} }} GRAPH ?g2 {{ ?o ?q ?v }} " + keep2 + " }",
            # Incoming triples of the predicates inverse paths and targets read ...
            "CONSTRUCT { ?s ?p ?f } WHERE { VALUES ?f { %s } " + incoming_union + keep + " }",
            # ... and the types of their subjects where a shape reads them.
            "CONSTRUCT { ?s a ?t } WHERE { { SELECT DISTINCT ?s WHERE { VALUES ?f { %s } "
            + typed_union
            + keep
            + " } } GRAPH ?g2 { ?s a ?t } "
            + keep2
            + " }",
            # Other excerpts of the same article with the same sentence number.
            f"CONSTRUCT {{ ?x {number} ?n ; {quoted} ?a }} WHERE {{ VALUES ?f {{ %s }} "
            f"?f {quoted} ?a . ?x {quoted} ?a . ?f {number} ?n . ?x {number} ?n }}",
        )

    def graph(self, batch: list[str]) -> Graph:
        values = " ".join(sparql_iri(iri) for iri in batch)
        graph = Graph()
        for template in self.templates:
            result = self.store.query(template % values)
            assert isinstance(result, ox.QueryTriples)
            for t in result:
                graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
        return graph


def _focus_candidates(store: ox.Store, policy: UriPolicy, shapes: Graph) -> list[str]:
    """Every IRI that may be a focus node: subjects, objects of target predicates, targets."""
    excluded = ", ".join(sparql_iri(g) for g in (policy.ontology_graph, policy.shapes_graph))
    found: set[str] = set()
    queries = [
        f"SELECT DISTINCT ?f WHERE {{ GRAPH ?g {{ ?f ?p ?o }} FILTER(?g NOT IN ({excluded})) }}",
        f"SELECT DISTINCT ?f WHERE {{ GRAPH {sparql_iri(policy.ontology_graph)} {{ ?f ?p ?o }} }}",
    ]
    for predicate in shapes.objects(None, SH.targetObjectsOf):
        queries.append(f"SELECT DISTINCT ?f WHERE {{ ?s {sparql_iri(str(predicate))} ?f }}")
    for query in queries:
        for row in cast(ox.QuerySolutions, store.query(query)):
            node = row["f"]
            if isinstance(node, ox.NamedNode):
                found.add(node.value)
    found |= {str(n) for n in shapes.objects(None, SH.targetNode) if isinstance(n, URIRef)}
    return sorted(found)


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _sparql_candidates(store: ox.Store, shapes: Graph) -> list[str]:
    """Focus nodes that may violate a SHACL-SPARQL constraint: each query run once, $this free."""
    found: set[str] = set()
    for shape, constraint in shapes.subject_objects(SH.sparql):
        path = shapes.value(shape, SH.path)
        for query in shapes.objects(constraint, SH.select):
            text = KNOWN_SPARQL[_normalise(str(query))]
            if path is not None:
                if not isinstance(path, URIRef):
                    raise ValueError(f"SHACL-SPARQL on a complex path {path}")
                text = text.replace("$PATH", sparql_iri(str(path)))
            for row in cast(ox.QuerySolutions, store.query(text)):
                node = row["this"]
                if isinstance(node, ox.NamedNode):
                    found.add(node.value)
    return sorted(found)


def _run(data: Graph, shapes: Graph, ontology: Graph, focus: list[str]) -> tuple[Graph, list[Node]]:
    """pySHACL on a batch's neighbourhood; the results about the batch's focus nodes.

    Not pySHACL's ``focus_nodes`` option: it also filters the value nodes that nested shapes
    (sh:or members, sh:qualifiedValueShape) are evaluated on, so those never fail. The
    neighbours are validated too (cheaply: they carry few triples) and their results dropped.
    """
    _, report, _ = pyshacl.validate(
        data,
        shacl_graph=shapes,
        ont_graph=ontology,
        inference="none",
        advanced=True,
        allow_warnings=True,
    )
    report = cast(Graph, report)
    wanted = {URIRef(iri) for iri in focus}
    kept = [
        result
        for result in report.objects(None, SH.result)
        if report.value(result, SH.focusNode) in wanted
    ]
    # With advanced=True a result carries the results of the value node it is about
    # (sh:detail, for sh:node and the like), typed sh:ValidationResult as well: they go
    # with their parent result, whatever their focus node.
    pending = list(kept)
    while pending:
        for detail in report.objects(pending.pop(), SH.detail):
            if detail not in kept:
                kept.append(detail)
                pending.append(detail)
    return report, kept


def validate_batched(
    store: ox.Store,
    policy: UriPolicy,
    shapes: Graph,
    ontology: Graph,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    blank_subjects: bool | None = None,
) -> ValidationReport:
    """Validate the store's data graphs batch by batch; same results as whole-graph pySHACL.

    ``blank_subjects``: whether the data graphs have blank-node subjects, if the caller
    saw while loading; None scans the store for them (:func:`batching_problems`).
    """
    if blank_subjects is None:
        problems = batching_problems(store, policy, shapes)
    else:
        problems = locality_problems(shapes)
        if blank_subjects:
            problems.append("the data has blank-node subjects")
    if problems:
        raise ValueError("cannot validate in batches: " + "; ".join(problems))
    neighbourhoods = _Neighbourhoods(
        store, policy, _incoming_predicates(shapes), _typed_incoming_predicates(shapes)
    )
    core = _without_sparql(shapes)
    if compile_problems(store, policy):
        candidates = _focus_candidates(store, policy, shapes)
    else:
        candidates, _ = compiled_candidates(store, policy, _without_sparql(shapes))
    sparql_focus = _sparql_candidates(store, shapes)
    total = len(candidates) + len(sparql_focus)
    if progress:
        progress(0, total)
    findings: list[Finding] = []
    merged = Graph()
    merged.bind("sh", str(SH))
    results: list[Node] = []
    done = 0

    def collect(report: Graph, found: Iterable[Node], data: Graph, shapes_used: Graph) -> None:
        for result in found:
            findings.append(_finding(report, result, data, shapes_used))
            results.append(result)
            _copy_result(report, result, merged)

    for batch in _batches(candidates, batch_size):
        data = neighbourhoods.graph(batch)
        report, found = _run(data, core, ontology, batch)
        collect(report, found, data, core)
        done += len(batch)
        if progress:
            progress(done, total)
    for batch in _batches(sparql_focus, batch_size):
        data = neighbourhoods.graph(batch)
        report, found = _run(data, shapes, ontology, batch)
        only_sparql = [
            r
            for r in found
            if str(report.value(r, SH.sourceConstraintComponent)) == _SPARQL_COMPONENT
        ]
        collect(report, only_sparql, data, shapes)
        done += len(batch)
        if progress:
            progress(done, total)
    conforms = not any(f.severity == "Violation" for f in findings)
    root = BNode()
    merged.add((root, RDF.type, SH.ValidationReport))
    merged.add((root, SH.conforms, Literal(conforms)))
    for result in results:
        merged.add((root, SH.result, result))
    findings.sort(key=lambda f: (f.severity != "Violation", f.focus, f.path or "", f.message))
    return ValidationReport(conforms, tuple(findings), merged)


def _copy_result(report: Graph, node: Node, into: Graph) -> None:
    """A result and every blank node it reaches (paths, details), into ``into``."""
    pending = [node]
    seen: set[Node] = set()
    while pending:
        subject = pending.pop()
        if subject in seen:
            continue
        seen.add(subject)
        for p, o in report.predicate_objects(subject):
            into.add((subject, p, o))
            if isinstance(o, BNode):
                pending.append(o)
