"""Find and parse the project's input files into quads, with file and line on every error.

``ontology/*.ttl`` goes to the ontology graph, ``shapes/*.ttl`` to the shapes graph,
``data/*.trig`` (or ``.nq``) keeps the graphs it names. A data statement outside any
named graph has no source, so it is refused (docs/modelling.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from lod_publisher.errors import SourceError
from lod_publisher.uris import UriPolicy

_PARSERS = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".trig": ox.RdfFormat.TRIG,
    ".nt": ox.RdfFormat.N_TRIPLES,
    ".nq": ox.RdfFormat.N_QUADS,
}


@dataclass(frozen=True)
class SourceFile:
    """One input file and the graph its triples go to (None: the graphs the file names)."""

    path: Path
    role: str  # "ontology", "shapes" or "data"
    target_graph: str | None

    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(source_dir: Path, policy: UriPolicy) -> list[SourceFile]:
    """The input files under ``source_dir``, in a stable order."""
    roles = (
        ("ontology", policy.ontology_graph),
        ("shapes", policy.shapes_graph),
        ("data", None),
    )
    found: list[SourceFile] = []
    for role, graph in roles:
        folder = source_dir / role
        if not folder.is_dir():
            raise SourceError(folder, f"folder {role}/ is missing: it holds the {role} files")
        for path in sorted(folder.iterdir()):
            if path.suffix in _PARSERS and path.is_file():
                found.append(SourceFile(path, role, graph))
    if not any(f.role == "data" for f in found):
        raise SourceError(source_dir / "data", "no data files (*.trig, *.nq) found")
    return found


def read_quads(source: SourceFile, policy: UriPolicy) -> Iterator[ox.Quad]:
    """Parse one file, resolving relative IRIs against the base.

    Raises SourceError with the file, line and column of the first syntax error, or
    for a data triple written outside a named graph.
    """
    fmt = _PARSERS[source.path.suffix]
    target = ox.NamedNode(source.target_graph) if source.target_graph else None
    try:
        for quad in ox.parse(path=str(source.path), format=fmt, base_iri=policy.base):
            if target is not None:
                yield ox.Quad(quad.subject, quad.predicate, quad.object, target)
            elif isinstance(quad.graph_name, ox.DefaultGraph):
                raise SourceError(
                    source.path,
                    f"statement outside a named graph: {quad.subject} {quad.predicate} "
                    f"{quad.object}. Put it in the graph of the sentence that states it "
                    "(docs/modelling.md, 'Provenance').",
                    line=first_line_mentioning(source.path, str(quad.subject), policy),
                )
            else:
                yield quad
    except SyntaxError as exc:
        raise SourceError(
            source.path, _strip_position(str(exc.msg)), exc.lineno, exc.offset
        ) from None
    except OSError as exc:
        raise SourceError(source.path, f"cannot read: {exc.strerror or exc}") from None


def _strip_position(message: str) -> str:
    """pyoxigraph prefixes 'Parser error at line L column C: '; we report those separately."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.startswith("Parser error at") else message


def first_line_mentioning(path: Path, iri: str, policy: UriPolicy) -> int | None:
    """The first line of ``path`` that writes ``iri`` (as ``<relative>``), comments skipped."""
    needle = "<" + policy.relative(iri.strip("<>")) + ">"
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if needle in line and not line.lstrip().startswith("#"):
                    return number
    except (OSError, UnicodeDecodeError):
        return None
    return None
