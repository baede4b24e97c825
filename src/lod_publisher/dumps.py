"""Write the dataset's downloadable dumps, each with its SHA-256, size and statement count.

Graph formats (Turtle, N-Triples, JSON-LD) hold the published default graph: the merge
of all graphs. Dataset formats (TriG, N-Quads) keep every named graph, so the
provenance (one graph per source sentence) travels with the data.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import pyoxigraph as ox

from lod_publisher.formats import by_key
from lod_publisher.store.embedded import RDF_FORMATS

DUMP_STEM = "commemoration"


@dataclass(frozen=True)
class DumpSpec:
    """One dump file: the format it is written in and whether it is gzipped."""

    format_key: str
    compressed: bool = False

    @property
    def filename(self) -> str:
        return f"{DUMP_STEM}.{self.format_key}" + (".gz" if self.compressed else "")

    @property
    def keeps_graphs(self) -> bool:
        return self.format_key in ("trig", "nq")


DUMPS: tuple[DumpSpec, ...] = (
    DumpSpec("ttl"),
    DumpSpec("nt", compressed=True),
    DumpSpec("jsonld"),
    DumpSpec("trig"),
    DumpSpec("nq", compressed=True),
)


@dataclass(frozen=True)
class DumpInfo:
    """What the manifest, VoID and the checksum file say about one written dump."""

    filename: str
    format_key: str
    media_type: str
    compressed: bool
    bytes: int
    sha256: str
    statements: int  # triples, or quads for dataset formats

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def write_dumps(store: ox.Store, folder: Path, prefixes: dict[str, str]) -> list[DumpInfo]:
    """Write every dump into ``folder`` and a ``SHA256SUMS`` file beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    triples = sum(1 for _ in store.quads_for_pattern(None, None, None, ox.DefaultGraph()))
    quads = sum(1 for q in store if not isinstance(q.graph_name, ox.DefaultGraph))
    written = []
    for spec in DUMPS:
        fmt = RDF_FORMATS[spec.format_key]
        if spec.keeps_graphs:
            statements: object = (q for q in store if not isinstance(q.graph_name, ox.DefaultGraph))
            count = quads
        else:
            statements = (
                ox.Triple(q.subject, q.predicate, q.object)
                for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())
            )
            count = triples
        payload = ox.serialize(statements, format=fmt, prefixes=prefixes)  # type: ignore[arg-type]
        assert payload is not None
        if spec.compressed:
            payload = gzip.compress(payload, mtime=0)
        path = folder / spec.filename
        path.write_bytes(payload)
        written.append(
            DumpInfo(
                filename=spec.filename,
                format_key=spec.format_key,
                media_type=by_key(spec.format_key).media_type,
                compressed=spec.compressed,
                bytes=len(payload),
                sha256=hashlib.sha256(payload).hexdigest(),
                statements=count,
            )
        )
    sums = "".join(f"{d.sha256}  {d.filename}\n" for d in written)
    (folder / "SHA256SUMS").write_text(sums, encoding="ascii")
    return written
