"""Every SPARQL query the application itself issues, built from escaped IRIs only.

No user input is pasted into query text: IRIs go through :func:`sparql_iri`, which
refuses anything that could end an IRI early.
"""

from __future__ import annotations

from lod_publisher.uris import PROV, SCHEMA, UriPolicy, sparql_iri


def _prefixes(policy: UriPolicy) -> str:
    return (
        f"PREFIX com: {sparql_iri(policy.ontology)}\n"
        f"PREFIX prov: <{PROV}>\n"
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        f"PREFIX schema: <{SCHEMA}>\n"
    )


def quad_count() -> str:
    """Statements in named graphs, counted once per graph that states them."""
    return "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"


def triple_count() -> str:
    """Distinct triples in the published default graph (the merge of all graphs)."""
    return "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def graph_count() -> str:
    return "SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"


def entities_per_class(policy: UriPolicy) -> str:
    """Entities (IRIs under ``id/``) per class, largest first."""
    space = sparql_iri(policy.entity_space)[1:-1]
    return (
        "SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?class "
        f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{space}")) }} '
        "GROUP BY ?class ORDER BY DESC(?n) ?class"
    )


def entity_count(policy: UriPolicy) -> str:
    space = sparql_iri(policy.entity_space)[1:-1]
    return (
        "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?class "
        f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{space}")) }}'
    )


def provenance_by_graph(policy: UriPolicy) -> str:
    """Per named graph: its size, and how its source is documented.

    ``excerpt``: the graph is a sentence with its text and article; ``described``: the
    graph names its source; ``system``: ontology, shapes, or the sources graph itself.
    Anything else has no documented source.
    """
    system = ", ".join(
        sparql_iri(g) for g in (policy.ontology_graph, policy.shapes_graph, policy.sources_graph)
    )
    sources = sparql_iri(policy.sources_graph)
    return (
        _prefixes(policy) + "SELECT ?g ?size ?kind WHERE {\n"
        "  { SELECT ?g (COUNT(*) AS ?size) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g }\n"
        f"  OPTIONAL {{ GRAPH {sources} {{ ?g a com:Excerpt ; com:text ?text ;\n"
        "                                      prov:wasQuotedFrom ?article . }\n"
        '              BIND("excerpt" AS ?excerptKind) }\n'
        f"  OPTIONAL {{ GRAPH {sources} {{ ?g prov:wasDerivedFrom|<http://purl.org/dc/terms/source> ?src }}\n"
        '              BIND("described" AS ?describedKind) }\n'
        f'  BIND(IF(?g IN ({system}), "system", COALESCE(?excerptKind, ?describedKind, "none")) AS ?kind)\n'
        "} ORDER BY ?g"
    )


def excerpts(policy: UriPolicy) -> str:
    """Every excerpt with its verbatim text and article, to check quotes against the articles."""
    return (
        _prefixes(policy)
        + f"SELECT DISTINCT ?excerpt ?text ?article WHERE {{ GRAPH {sparql_iri(policy.sources_graph)} "
        "{ ?excerpt com:text ?text ; prov:wasQuotedFrom ?article } } ORDER BY ?excerpt"
    )


def union_graph() -> str:
    """All triples of the published default graph, for validation and dumps."""
    return "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


def graph_triples(graph: str) -> str:
    return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {sparql_iri(graph)} {{ ?s ?p ?o }} }}"


def data_graph_triples(policy: UriPolicy) -> str:
    """The merge of every graph except the ontology and the shapes: what SHACL validates."""
    excluded = ", ".join(sparql_iri(g) for g in (policy.ontology_graph, policy.shapes_graph))
    return (
        "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } "
        f"FILTER(?g NOT IN ({excluded})) }}"
    )
