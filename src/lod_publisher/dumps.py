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
from typing import BinaryIO

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


class _CountingWriter:
    """A binary file that also hashes and counts what goes through it (SHA-256, bytes)."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


def write_dumps(store: ox.Store, folder: Path, prefixes: dict[str, str]) -> list[DumpInfo]:
    """Write every dump into ``folder`` and a ``SHA256SUMS`` file beside them.

    Each dump streams from the store to its file (through gzip where compressed), hashed
    and measured on the way: memory stays flat whatever the size of the dataset.
    """
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
        path = folder / spec.filename
        with path.open("wb") as raw:
            sink = _CountingWriter(raw)
            if spec.compressed:
                with gzip.GzipFile(fileobj=sink, mode="wb", mtime=0) as zipped:
                    ox.serialize(statements, zipped, format=fmt, prefixes=prefixes)  # type: ignore[arg-type]
            else:
                ox.serialize(statements, sink, format=fmt, prefixes=prefixes)  # type: ignore[arg-type]
        written.append(
            DumpInfo(
                filename=spec.filename,
                format_key=spec.format_key,
                media_type=by_key(spec.format_key).media_type,
                compressed=spec.compressed,
                bytes=sink.size,
                sha256=sink.digest.hexdigest(),
                statements=count,
            )
        )
    sums = "".join(f"{d.sha256}  {d.filename}\n" for d in written)
    (folder / "SHA256SUMS").write_text(sums, encoding="ascii")
    return written
