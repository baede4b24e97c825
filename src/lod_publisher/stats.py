"""Dataset statistics computed by SPARQL from a backend: sizes, entities per class, provenance."""

from __future__ import annotations

from dataclasses import dataclass

from lod_publisher import queries
from lod_publisher.store.backend import Backend
from lod_publisher.uris import UriPolicy


@dataclass(frozen=True)
class ProvenanceShare:
    """How many statements of each kind of graph have a documented source."""

    article_statements: int  # statements in sentence graphs (excerpt with text and article)
    described_statements: int  # statements in graphs that name their source (authorities)
    system_statements: int  # ontology, shapes, and the description of the sources
    unsourced_statements: int  # statements in graphs with no documented source

    @property
    def sourced_share(self) -> float:
        """Share of data statements (all but system graphs) that have a documented source."""
        data = self.article_statements + self.described_statements + self.unsourced_statements
        return 1.0 if data == 0 else (data - self.unsourced_statements) / data


@dataclass(frozen=True)
class DatasetStats:
    triples: int
    quads: int
    graphs: int
    entities: int
    classes: tuple[tuple[str, int], ...]
    provenance: ProvenanceShare


def _count(backend: Backend, query: str) -> int:
    return int(str(backend.select(query)[0]["n"]))


def compute(backend: Backend, policy: UriPolicy) -> DatasetStats:
    sizes = {"excerpt": 0, "described": 0, "system": 0, "none": 0}
    for row in backend.select(queries.provenance_by_graph(policy)):
        sizes[str(row["kind"])] += int(str(row["size"]))
    classes = tuple(
        (str(row["class"]), int(str(row["n"])))
        for row in backend.select(queries.entities_per_class(policy))
    )
    return DatasetStats(
        triples=_count(backend, queries.triple_count()),
        quads=_count(backend, queries.quad_count()),
        graphs=_count(backend, queries.graph_count()),
        entities=_count(backend, queries.entity_count(policy)),
        classes=classes,
        provenance=ProvenanceShare(
            sizes["excerpt"], sizes["described"], sizes["system"], sizes["none"]
        ),
    )


def format_stats(stats: DatasetStats, policy: UriPolicy) -> str:
    p = stats.provenance
    lines = [
        f"Triples (merged default graph): {stats.triples}",
        f"Statements in named graphs:     {stats.quads} in {stats.graphs} graphs",
        f"Entities (IRIs under id/):      {stats.entities}",
        "",
        "Provenance:",
        f"  from article sentences:       {p.article_statements} statements",
        f"  from described authorities:   {p.described_statements} statements",
        f"  ontology, shapes, sources:    {p.system_statements} statements",
        f"  without a documented source:  {p.unsourced_statements} statements",
        f"  data statements with a source: {p.sourced_share:.1%}",
        "",
        "Entities per class:",
    ]
    width = max((len(policy.relative(c)) for c, _ in stats.classes), default=0)
    lines += [f"  {policy.relative(c):<{width}}  {n:>6}" for c, n in stats.classes]
    return "\n".join(lines)
