"""Every SPARQL query the application itself issues, built from escaped IRIs only.

No user input is pasted into query text: IRIs go through :func:`sparql_iri`, which
refuses anything that could end an IRI early.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    Anything else has no documented source. Unordered: on a disk store oxigraph's
    ORDER BY decodes both terms at every comparison, which took most of this query's 25 s
    at 1M statements (bench/SCALE.md); callers sort what they show.
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
        "}"
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


# Label properties, most preferred first (LodView's idea): titles and link texts use them.
LABEL_PROPERTIES: tuple[str, ...] = (
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://schema.org/name",
    "http://purl.org/dc/terms/title",
    "http://xmlns.com/foaf/0.1/name",
)
_LABEL_VALUES = "VALUES ?lp { " + " ".join(f"<{p}>" for p in LABEL_PROPERTIES) + " }"
# The same restriction as a filter. Inside a join, Oxigraph evaluates a VALUES block
# first and so reads every label of the dataset (about 1 s at 100k triples); a FILTER
# lets the join start from the described resource (30x faster, same answer).
_LABEL_FILTER = "FILTER(?lp IN (" + ", ".join(f"<{p}>" for p in LABEL_PROPERTIES) + "))"


# How many statements pointing at a resource its description lists (Pubby and LodView bound
# theirs too). A hub is pointed at by thousands (8,950 at 1M generated triples, 44,924 at
# 5M): no page can show them, and rendering them cost a worker hundreds of MB.
INCOMING_LIMIT = 500

Pair = tuple[str, str]  # (subject IRI, predicate IRI) of a statement pointing at a resource


def incoming_count(iri: str) -> str:
    return f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s ?p {sparql_iri(iri)} }}"


def all_incoming(iri: str) -> str:
    """For readers: every statement pointing at ``iri``, in the order pages list them."""
    return f"SELECT ?s ?p WHERE {{ ?s ?p {sparql_iri(iri)} }} ORDER BY ?p ?s"


def incoming_pairs(iri: str) -> str:
    """Subject and predicate of every statement pointing at ``iri`` from an IRI."""
    return f"SELECT ?s ?p WHERE {{ ?s ?p {sparql_iri(iri)} FILTER(isIRI(?s)) }}"


def _pairs_values(pairs: Sequence[Pair], subject: str, predicate: str) -> str:
    rows = " ".join(f"({sparql_iri(s)} {sparql_iri(p)})" for s, p in pairs)
    return f"VALUES ({subject} {predicate}) {{ {rows} }}"


def describe(iri: str, incoming: Sequence[Pair] | None = None) -> str:
    """The description of one resource, as one CONSTRUCT over the merged default graph.

    Its statements (and up to two levels of blank nodes under them), the statements that
    point at it (only those of ``incoming``, when given: see :data:`INCOMING_LIMIT`), and
    the labels of every resource they mention, predicates and classes included.
    """
    e = sparql_iri(iri)
    if incoming is None:
        pointing = f"{{ ?s ?ip {e} }}"
        pointing_labels = f"{{ ?labelled ?x {e} . ?labelled ?lp ?label . {_LABEL_FILTER} }}"
        predicate_labels = f"{{ ?y ?labelled {e} }}"
    else:  # VALUES drive these joins: a lookup per chosen statement
        pointing = f"{{ {_pairs_values(incoming, '?s', '?ip')} ?s ?ip {e} }}"
        pointing_labels = (
            f"{{ {_pairs_values(incoming, '?labelled', '?x')} ?labelled ?x {e} . "
            f"?labelled ?lp ?label . {_LABEL_FILTER} }}"
        )
        predicate_labels = f"{{ {_pairs_values(incoming, '?y', '?labelled')} }}"
    return f"""CONSTRUCT {{
  {e} ?p ?o . ?o ?b1p ?b1o . ?b1o ?b2p ?b2o .
  ?s ?ip {e} .
  ?labelled ?lp ?label .
}} WHERE {{
  {{ {e} ?p ?o .
     OPTIONAL {{ FILTER(isBlank(?o)) ?o ?b1p ?b1o .
                 OPTIONAL {{ FILTER(isBlank(?b1o)) ?b1o ?b2p ?b2o }} }} }}
  UNION {pointing}
  UNION {{ {e} ?x ?labelled . ?labelled ?lp ?label . {_LABEL_FILTER} }}
  UNION {pointing_labels}
  UNION {{ {{ {e} ?labelled ?x }} UNION {predicate_labels}
           ?labelled ?lp ?label . {_LABEL_FILTER} }}
  UNION {{ {e} ?x ?b . FILTER(isBlank(?b)) ?b ?labelled ?z .
           ?labelled ?lp ?label . {_LABEL_FILTER} }}
  UNION {{ {e} ?x ?b . FILTER(isBlank(?b)) ?b ?y ?labelled . FILTER(isIRI(?labelled))
           ?labelled ?lp ?label . {_LABEL_FILTER} }}
}}"""


def statement_excerpts(policy: UriPolicy, iri: str, incoming: Sequence[Pair] | None = None) -> str:
    """For each statement about (or pointing at) ``iri``: the sentence graphs stating it.

    One row per statement, its sentences' IRIs in ``?excerpts``, separated by spaces (an
    IRI has none), in no particular order: a hub's label is restated in thousands of
    sentences, and one string per statement is far lighter than a row per sentence.
    With ``incoming``, only the statements pointing at ``iri`` that it lists.
    """
    e = sparql_iri(iri)
    if incoming is None:
        statements = f"GRAPH ?excerpt {{ {{ {e} ?p ?o BIND({e} AS ?s) }} UNION {{ ?s ?p {e} BIND({e} AS ?o) }} }}"
    else:
        statements = (
            f"{{ GRAPH ?excerpt {{ {e} ?p ?o }} BIND({e} AS ?s) }}\n"
            f"  UNION {{ {_pairs_values(incoming, '?s', '?p')} GRAPH ?excerpt {{ ?s ?p {e} }} "
            f"BIND({e} AS ?o) }}"
        )
    return (
        _prefixes(policy)
        + f"""SELECT ?s ?p ?o (GROUP_CONCAT(DISTINCT STR(?excerpt); separator=" ") AS ?excerpts)
WHERE {{
  {statements}
  ?excerpt com:text ?text ; prov:wasQuotedFrom ?article .
}} GROUP BY ?s ?p ?o"""
    )


def excerpt_details(policy: UriPolicy, excerpts: Sequence[str]) -> str:
    """The sentence, article, article label (English), URL and date of each excerpt."""
    values = " ".join(sparql_iri(x) for x in excerpts)
    return (
        _prefixes(policy)
        + f"""SELECT ?excerpt ?text ?article ?articleLabel ?url ?published WHERE {{
  VALUES ?excerpt {{ {values} }}
  ?excerpt com:text ?text ; prov:wasQuotedFrom ?article .
  OPTIONAL {{ ?article rdfs:label ?articleLabel FILTER(langMatches(lang(?articleLabel), "en")) }}
  OPTIONAL {{ ?article schema:url ?url }}
  OPTIONAL {{ ?article schema:datePublished ?published }}
}}"""
    )


def excerpt_statements(iri: str) -> str:
    """What one sentence states: the triples of the graph named after it."""
    return f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {sparql_iri(iri)} {{ ?s ?p ?o }} }}"


def is_known(iri: str) -> str:
    """Whether the dataset says anything about ``iri``, or names a graph after it."""
    e = sparql_iri(iri)
    return f"ASK {{ {{ {e} ?p ?o }} UNION {{ ?s ?p {e} }} UNION {{ GRAPH {e} {{ ?s ?p ?o }} }} }}"


def instances(class_iri: str, limit: int, offset: int) -> str:
    """A page of the instances of a class (rdf:type as stated), ordered by IRI."""
    return (
        f"SELECT DISTINCT ?s WHERE {{ ?s a {sparql_iri(class_iri)} }} "
        f"ORDER BY ?s LIMIT {int(limit)} OFFSET {int(offset)}"
    )


def instance_count(class_iri: str) -> str:
    return f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a {sparql_iri(class_iri)} }}"


def labels_of_all() -> str:
    """Every label of every IRI, for the search index."""
    return (
        "SELECT ?s ?lp ?label WHERE { ?s ?lp ?label . "
        + _LABEL_VALUES.replace(" }", " <http://www.w3.org/2004/02/skos/core#altLabel> }")
        + " FILTER(isIRI(?s) && isLiteral(?label)) }"
    )


def property_partitions() -> str:
    """Triples per property in the merged default graph (for VoID)."""
    return "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY ?p"


def class_partitions() -> str:
    """Distinct instances per class in the merged default graph (for VoID)."""
    return "SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?class } GROUP BY ?class ORDER BY ?class"


def distinct_subjects_and_objects() -> str:
    return (
        "SELECT (COUNT(DISTINCT ?s) AS ?subjects) (COUNT(DISTINCT ?o) AS ?objects) "
        "WHERE { ?s ?p ?o }"
    )


def schema_org_types(iri: str) -> str:
    """The schema.org classes a resource belongs to through the ontology's subclass axioms."""
    return (
        "SELECT DISTINCT ?type WHERE { "
        f"{sparql_iri(iri)} a/<http://www.w3.org/2000/01/rdf-schema#subClassOf>* ?type "
        f'FILTER(STRSTARTS(STR(?type), "{SCHEMA}")) }} ORDER BY ?type'
    )
