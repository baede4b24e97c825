"""The VoID and DCAT description of a build (https://www.w3.org/TR/void/, DCAT 3).

Every number is counted by SPARQL over the built store and every dump is described
from the file written, so the description cannot drift from the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rdflib import DCTERMS, FOAF, OWL, RDF, XSD, BNode, Graph, Literal, Namespace, URIRef

from lod_publisher import queries
from lod_publisher.dumps import DumpInfo
from lod_publisher.formats import by_key
from lod_publisher.store.backend import Backend
from lod_publisher.uris import UriPolicy

VOID = Namespace("http://rdfs.org/ns/void#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
IANA = "https://www.iana.org/assignments/media-types/"
LICENSE = URIRef("https://creativecommons.org/licenses/by/4.0/")
TITLE = "WWII commemorations: Kazakhstan at home and abroad, 2020 to 2025"
DESCRIPTION = (
    "Every fact in five news articles about how Kazakhstan commemorates the Second World War "
    "(Belgrade, Leusden, Zhezkazgan, Astana, Almaty; the 2020 anniversary under COVID-19), "
    "each statement traceable to the sentence that states it."
)
EXAMPLE_COUNT = 3


def void_location(policy: UriPolicy) -> str:
    return policy.base + ".well-known/void"


def dump_url(policy: UriPolicy, build_id: str, filename: str) -> str:
    return f"{policy.base}dumps/{build_id}/{filename}"


def latest_dump_url(policy: UriPolicy, filename: str) -> str:
    return f"{policy.base}dumps/latest/{filename}"


def _count(backend: Backend, query: str, variable: str = "n") -> int:
    return int(str(backend.select(query)[0][variable]))


def void_graph(
    backend: Backend,
    policy: UriPolicy,
    build_id: str,
    created: datetime,
    dumps: Sequence[DumpInfo],
) -> Graph:
    """The VoID + DCAT description of the dataset as built."""
    g = Graph()
    for prefix, namespace in {
        **policy.prefixes(),
        "void": str(VOID),
        "dcat": str(DCAT),
        "spdx": str(SPDX),
        "foaf": str(FOAF),
    }.items():
        g.bind(prefix, namespace, replace=True)
    dataset = URIRef(policy.dataset)
    description = URIRef(void_location(policy))
    g.add((description, RDF.type, VOID.DatasetDescription))
    g.add((description, DCTERMS.title, Literal(f"VoID description of {TITLE}", lang="en")))
    g.add((description, FOAF.primaryTopic, dataset))

    g.add((dataset, RDF.type, VOID.Dataset))
    g.add((dataset, RDF.type, DCAT.Dataset))
    g.add((dataset, DCTERMS.title, Literal(TITLE, lang="en")))
    g.add((dataset, DCTERMS.description, Literal(DESCRIPTION, lang="en")))
    g.add((dataset, DCTERMS.license, LICENSE))
    g.add(
        (
            dataset,
            DCTERMS.modified,
            Literal(created.isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime),
        )
    )
    g.add((dataset, OWL.versionInfo, Literal(build_id)))
    g.add((dataset, DCAT.version, Literal(build_id)))
    g.add((dataset, VOID.sparqlEndpoint, URIRef(policy.base + "sparql")))
    g.add((dataset, VOID.uriSpace, Literal(policy.entity_space)))
    g.add((dataset, VOID.vocabulary, URIRef(policy.ontology)))
    g.add((dataset, VOID.feature, URIRef("http://www.w3.org/ns/formats/Turtle")))

    g.add((dataset, VOID.triples, Literal(_count(backend, queries.triple_count()))))
    g.add((dataset, VOID.entities, Literal(_count(backend, queries.entity_count(policy)))))
    counts = backend.select(queries.distinct_subjects_and_objects())[0]
    g.add((dataset, VOID.distinctSubjects, Literal(int(str(counts["subjects"])))))
    g.add((dataset, VOID.distinctObjects, Literal(int(str(counts["objects"])))))

    properties = backend.select(queries.property_partitions())
    g.add((dataset, VOID.properties, Literal(len(properties))))
    for row in properties:
        partition = BNode()
        g.add((dataset, VOID.propertyPartition, partition))
        g.add((partition, VOID.property, row["p"]))
        g.add((partition, VOID.triples, Literal(int(str(row["n"])))))
    classes = backend.select(queries.class_partitions())
    g.add((dataset, VOID.classes, Literal(len(classes))))
    for row in classes:
        partition = BNode()
        g.add((dataset, VOID.classPartition, partition))
        g.add((partition, VOID["class"], row["class"]))
        g.add((partition, VOID.entities, Literal(int(str(row["n"])))))

    for row in backend.select(queries.entities_per_class(policy))[:EXAMPLE_COUNT]:
        for example in backend.select(queries.instances(str(row["class"]), 1, 0)):
            g.add((dataset, VOID.exampleResource, example["s"]))

    for dump in dumps:
        url = URIRef(dump_url(policy, build_id, dump.filename))
        g.add((dataset, VOID.dataDump, url))
        g.add((dataset, DCAT.distribution, url))
        fmt = by_key(dump.format_key)
        g.add((url, RDF.type, DCAT.Distribution))
        g.add(
            (
                url,
                DCTERMS.title,
                Literal(f"{fmt.name} dump" + (" (gzip)" if dump.compressed else ""), lang="en"),
            )
        )
        g.add((url, DCAT.downloadURL, url))
        g.add((url, DCAT.accessURL, URIRef(latest_dump_url(policy, dump.filename))))
        g.add((url, DCAT.mediaType, URIRef(IANA + fmt.media_type)))
        if fmt.iri:
            g.add((url, DCTERMS.format, URIRef(fmt.iri)))
        if dump.compressed:
            g.add((url, DCAT.compressFormat, URIRef(IANA + "application/gzip")))
        g.add((url, DCAT.byteSize, Literal(dump.bytes, datatype=XSD.nonNegativeInteger)))
        g.add((url, VOID.triples, Literal(dump.statements)))
        g.add((url, DCTERMS.license, LICENSE))
        checksum = BNode()
        g.add((url, SPDX.checksum, checksum))
        g.add((checksum, RDF.type, SPDX.Checksum))
        g.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        g.add((checksum, SPDX.checksumValue, Literal(dump.sha256, datatype=XSD.hexBinary)))
    return g
