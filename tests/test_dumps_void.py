"""Dumps download, parse and match the store; the checksum file verifies; VoID counts are true."""

from __future__ import annotations

import gzip
import hashlib

from rdflib import Dataset, Graph, Literal, Namespace, URIRef
from tests.conftest import fetch

from lod_publisher import queries
from lod_publisher.releases import Release
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.uris import UriPolicy

VOID = Namespace("http://rdfs.org/ns/void#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
SPDX = Namespace("http://spdx.org/rdf/terms#")


def count(backend: EmbeddedBackend, query: str) -> int:
    return int(str(backend.select(query)[0]["n"]))


def test_every_dump_downloads_parses_and_matches_the_store(
    live_server: str, release: Release
) -> None:
    backend = EmbeddedBackend.open(release.store_path)
    triples = count(backend, queries.triple_count())
    quads = count(backend, queries.quad_count())
    assert release.manifest["triples"] == triples
    for dump in release.manifest["dumps"]:
        reply = fetch(f"{live_server}dumps/latest/{dump['filename']}")
        assert reply.status == 200, dump["filename"]
        assert int(reply.header("Content-Length")) == dump["bytes"] == len(reply.body)
        assert reply.header("ETag") == f'"{dump["sha256"]}"'
        data = gzip.decompress(reply.body) if dump["compressed"] else reply.body
        if dump["format_key"] in ("trig", "nq"):
            dataset = Dataset()
            dataset.parse(data=data, format={"trig": "trig", "nq": "nquads"}[dump["format_key"]])
            parsed = sum(1 for _ in dataset.quads((None, None, None, None)))
            assert parsed == quads == dump["statements"], dump["filename"]
        else:
            graph = Graph().parse(
                data=data,
                format={"ttl": "turtle", "nt": "nt", "jsonld": "json-ld"}[dump["format_key"]],
            )
            assert len(graph) == triples == dump["statements"], dump["filename"]
        versioned = fetch(f"{live_server}dumps/{release.build_id}/{dump['filename']}")
        assert versioned.body == reply.body


def test_checksum_file_verifies(live_server: str, release: Release) -> None:
    sums = fetch(f"{live_server}dumps/latest/SHA256SUMS").body.decode()
    lines = [line.split("  ") for line in sums.splitlines()]
    assert {name for _, name in lines} == {d["filename"] for d in release.manifest["dumps"]}
    for digest, name in lines:
        body = fetch(f"{live_server}dumps/latest/{name}").body
        assert hashlib.sha256(body).hexdigest() == digest


def test_range_requests_on_dumps(live_server: str) -> None:
    full = fetch(f"{live_server}dumps/latest/commemoration.ttl").body
    part = fetch(f"{live_server}dumps/latest/commemoration.ttl", {"Range": "bytes=10-19"})
    assert part.status == 206
    assert part.body == full[10:20]
    assert part.header("Content-Range") == f"bytes 10-19/{len(full)}"


def test_unknown_builds_and_files_are_404(live_server: str) -> None:
    assert fetch(f"{live_server}dumps/20000101T000000Z-00000000/commemoration.ttl").status == 404
    assert fetch(f"{live_server}dumps/latest/..%2Fmanifest.json").status == 404
    assert fetch(f"{live_server}dumps/latest/manifest.json").status == 404


def test_void_numbers_equal_sparql_counts(live_server: str, release: Release) -> None:
    policy = UriPolicy(release.base_uri)
    reply = fetch(f"{live_server}.well-known/void", {"Accept": "text/turtle"})
    assert reply.status == 200
    void = Graph().parse(data=reply.body, format="turtle")
    backend = EmbeddedBackend.open(release.store_path)
    dataset = URIRef(policy.dataset)

    def value(predicate: URIRef, subject: URIRef = dataset) -> int:
        return int(void.value(subject, predicate))  # type: ignore[arg-type]

    assert value(VOID.triples) == count(backend, queries.triple_count())
    assert value(VOID.entities) == count(backend, queries.entity_count(policy))
    assert void.value(dataset, VOID.sparqlEndpoint) == URIRef(live_server + "sparql")
    assert void.value(dataset, VOID.uriSpace) == Literal(policy.entity_space)
    assert list(void.objects(dataset, VOID.exampleResource))
    assert void.value(dataset, URIRef("http://purl.org/dc/terms/license")) is not None
    classes = {
        str(void.value(p, VOID["class"])): int(void.value(p, VOID.entities))  # type: ignore[arg-type]
        for p in void.objects(dataset, VOID.classPartition)
    }
    expected_classes = {
        str(r["class"]): int(str(r["n"])) for r in backend.select(queries.class_partitions())
    }
    assert classes == expected_classes
    properties = {
        str(void.value(p, VOID.property)): int(void.value(p, VOID.triples))  # type: ignore[arg-type]
        for p in void.objects(dataset, VOID.propertyPartition)
    }
    assert properties == {
        str(r["p"]): int(str(r["n"])) for r in backend.select(queries.property_partitions())
    }
    assert sum(properties.values()) == value(VOID.triples)
    dumps = {str(d) for d in void.objects(dataset, VOID.dataDump)}
    for dump in release.manifest["dumps"]:
        url = URIRef(f"{policy.base}dumps/{release.build_id}/{dump['filename']}")
        assert str(url) in dumps
        assert value(DCAT.byteSize, url) == dump["bytes"]
        checksum = void.value(url, SPDX.checksum)
        assert str(void.value(checksum, SPDX.checksumValue)) == dump["sha256"]
        assert fetch(str(void.value(url, DCAT.downloadURL))).status == 200


def test_dataset_iri_redirects_to_void(live_server: str) -> None:
    reply = fetch(live_server + "dataset")
    assert reply.status == 303
    assert reply.header("Location").endswith("/.well-known/void")
