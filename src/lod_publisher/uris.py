"""IRI policy: where entities, documents, graphs and vocabulary live under the base.

The data files use relative IRIs (see docs/modelling.md); everything here is derived
from one base so the same data publishes at any address.

>>> policy = UriPolicy("http://example.org/")
>>> policy.entity("person", "madi-atamkulov")
'http://example.org/id/person/madi-atamkulov'
>>> policy.graph("sources")
'http://example.org/graph/sources'
>>> sparql_iri("http://example.org/a b")
Traceback (most recent call last):
...
ValueError: not an IRI that can be written in SPARQL: 'http://example.org/a b'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROV = "http://www.w3.org/ns/prov#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SH = "http://www.w3.org/ns/shacl#"
DCTERMS = "http://purl.org/dc/terms/"
SCHEMA = "http://schema.org/"
VOID = "http://rdfs.org/ns/void#"

# IRIref characters excluded by the SPARQL grammar (production IRIREF), plus controls.
_FORBIDDEN_IN_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def sparql_iri(iri: str) -> str:
    """``<iri>`` for use in a query, after checking nothing in it can end the IRI early.

    Raises ValueError for relative IRIs and any character the SPARQL IRIREF
    production forbids, so a crafted IRI can never change a query's meaning.
    """
    if not _SCHEME.match(iri) or _FORBIDDEN_IN_IRI.search(iri):
        raise ValueError(f"not an IRI that can be written in SPARQL: {iri!r}")
    return f"<{iri}>"


@dataclass(frozen=True)
class UriPolicy:
    """Every IRI the publisher mints, derived from one base (ending in ``/``)."""

    base: str

    def __post_init__(self) -> None:
        if not self.base.endswith("/"):
            raise ValueError(f"base IRI must end with '/': {self.base!r}")

    @property
    def ontology(self) -> str:
        """The ontology's namespace (and ontology IRI), prefix ``com:``."""
        return self.base + "ontology/"

    @property
    def shapes(self) -> str:
        return self.base + "shapes/"

    @property
    def entity_space(self) -> str:
        """The ``void:uriSpace`` of the entities."""
        return self.base + "id/"

    def entity(self, kind: str, slug: str) -> str:
        return f"{self.base}id/{kind}/{slug}"

    def graph(self, name: str) -> str:
        return f"{self.base}graph/{name}"

    def term(self, local_name: str) -> str:
        return self.ontology + local_name

    @property
    def sources_graph(self) -> str:
        return self.graph("sources")

    @property
    def ontology_graph(self) -> str:
        return self.graph("ontology")

    @property
    def shapes_graph(self) -> str:
        return self.graph("shapes")

    @property
    def merged_graph(self) -> str:
        """In a remote store: the graph holding the merge of all graphs (our default graph)."""
        return self.graph("merged")

    @property
    def manifest_graph(self) -> str:
        """In a remote store: the graph naming the loaded build and its graphs."""
        return self.graph("manifest")

    @property
    def dataset(self) -> str:
        """The IRI of the dataset as a whole (described by VoID)."""
        return self.base + "dataset"

    def prefixes(self) -> dict[str, str]:
        """Prefixes for serializations and the query editor: ours, then standard vocabularies."""
        return {
            "com": self.ontology,
            "cshape": self.shapes,
            "prov": PROV,
            "rdf": RDF,
            "rdfs": RDFS,
            "owl": OWL,
            "xsd": XSD,
            "skos": SKOS,
            "sh": SH,
            "dcterms": DCTERMS,
            "schema": SCHEMA,
            "void": VOID,
            "geo": "http://www.w3.org/2003/01/geo/wgs84_pos#",
            "crm": "http://www.cidoc-crm.org/cidoc-crm/",
            "foaf": "http://xmlns.com/foaf/0.1/",
        }

    def compact(self, iri: str) -> str:
        """``prefix:local`` for an IRI in a known namespace, else the IRI relative to the base.

        >>> UriPolicy("http://example.org/").compact("http://www.w3.org/2000/01/rdf-schema#label")
        'rdfs:label'
        """
        for prefix, namespace in self.prefixes().items():
            local = iri[len(namespace) :]
            if iri.startswith(namespace) and local and "/" not in local and "#" not in local:
                return f"{prefix}:{local}"
        return self.relative(iri)

    def is_entity(self, iri: str) -> bool:
        return iri.startswith(self.entity_space)

    def relative(self, iri: str) -> str:
        """``iri`` without the base, if it is under it (for tests and display)."""
        return iri[len(self.base) :] if iri.startswith(self.base) else iri
