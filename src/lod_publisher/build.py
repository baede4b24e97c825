"""Build: parse every input, check provenance, validate with SHACL, write store and dumps.

``check`` is the shared front half (``lod-publisher validate`` stops there); ``build``
adds the dumps and publishes the result atomically (see releases.py). Any problem
raises BuildError listing file, line and reason, and nothing is published.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import pyoxigraph as ox

from lod_publisher import queries
from lod_publisher.dumps import write_dumps
from lod_publisher.errors import BuildError, SourceError
from lod_publisher.releases import (
    Release,
    publish,
    staging_folder,
    unique_build_id,
    write_manifest,
)
from lod_publisher.settings import Settings
from lod_publisher.sources import SourceFile, discover, first_line_mentioning, read_quads
from lod_publisher.stats import compute
from lod_publisher.store.embedded import EmbeddedBackend, write_store
from lod_publisher.uris import UriPolicy
from lod_publisher.validation import ValidationReport, validate
from lod_publisher.validation_scale import BATCHED_ABOVE, locality_problems, validate_batched
from lod_publisher.void import void_graph

ARTICLES_FOLDER = Path("data") / "articles"

Say = Callable[[str], None]  # prints one progress line (the CLI writes them to stderr)


def _quiet(_: str) -> None:
    pass


@dataclass
class CheckedSources:
    """The loaded store of a build, with what the checks found."""

    policy: UriPolicy
    files: list[SourceFile]
    store: ox.Store
    report: ValidationReport


def check(settings: Settings, store_path: Path | None = None, say: Say = _quiet) -> CheckedSources:
    """Parse, load, check provenance and validate; raise BuildError on any problem.

    With ``store_path`` None the store lives in memory (``validate`` needs no disk).
    ``say`` receives a line per phase and progress within the long ones.
    """
    policy = UriPolicy(settings.base_uri)
    loaded = 0
    try:
        files = discover(settings.source_dir, policy)
        graph_files: dict[str, set[Path]] = defaultdict(set)
        say(f"load: parsing {len(files)} files")

        system = {policy.ontology_graph, policy.shapes_graph}
        blank_subjects = False  # in data graphs: they keep validation on the whole graph

        def all_quads() -> Iterator[ox.Quad]:
            nonlocal loaded, blank_subjects
            for source in files:
                for quad in read_quads(source, policy):
                    graph = str(quad.graph_name.value)  # type: ignore[union-attr]
                    graph_files[graph].add(source.path)
                    if isinstance(quad.subject, ox.BlankNode) and graph not in system:
                        blank_subjects = True
                    loaded += 1
                    if loaded % 1_000_000 == 0:
                        say(f"load: {loaded:,} statements")
                    yield quad

        store = write_store(store_path, all_quads())
    except SourceError as exc:
        raise BuildError(str(exc)) from None
    say(f"load: {loaded:,} statements in {len(graph_files):,} graphs")

    backend = EmbeddedBackend(store)
    say("provenance: checking sources and quotes")
    problems = _provenance_problems(backend, policy, settings.source_dir, graph_files)
    if problems:
        raise BuildError("\n".join(str(p) for p in problems))
    report = _validate_store(backend, policy, loaded, blank_subjects, say)
    if not report.conforms:
        data_files = [f.path for f in files if f.role == "data"]
        located = "\n\n".join(
            _where(data_files, finding.focus, policy) + finding.describe(policy)
            for finding in report.violations
        )
        raise BuildError(
            f"{located}\n\nSHACL validation failed: {len(report.violations)} violation(s)."
        )
    return CheckedSources(policy, files, store, report)


def _where(paths: list[Path], iri: str, policy: UriPolicy) -> str:
    """``file:line: `` of the first data file that writes ``iri``, or nothing."""
    for path in paths:
        line = first_line_mentioning(path, iri, policy)
        if line is not None:
            return f"{path}:{line}: "
    return ""


def _validate_store(
    backend: EmbeddedBackend,
    policy: UriPolicy,
    statements: int,
    blank_subjects: bool,
    say: Say = _quiet,
) -> ValidationReport:
    """pySHACL on the whole data graph, or, above ``BATCHED_ABOVE`` statements, in batches.

    Batches give the same results (validation_scale.py) with memory bounded by the batch;
    shapes that look beyond one hop, or blank-node subjects, keep the whole-graph path.
    """
    shapes = backend.construct(queries.graph_triples(policy.shapes_graph))
    ontology = backend.construct(queries.graph_triples(policy.ontology_graph))
    if statements > BATCHED_ABOVE and not blank_subjects and not locality_problems(shapes):
        say("validate: SHACL in batches of focus nodes")

        def progress(done: int, total: int) -> None:
            say(f"validate: {done:,}/{total:,} focus nodes")

        return validate_batched(
            backend.store, policy, shapes, ontology, progress, blank_subjects=False
        )
    say("validate: SHACL on the whole data graph")
    data = backend.construct(queries.data_graph_triples(policy))
    return validate(data, shapes, ontology)


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _rows(backend: EmbeddedBackend, query: str) -> Iterator[dict[str, str]]:
    """A SELECT's solutions as plain strings: no rdflib terms for 100,000s of rows."""
    results = backend.store.query(query)
    assert isinstance(results, ox.QuerySolutions)
    names = [v.value for v in results.variables]
    for solution in results:
        yield {name: term.value for name in names if (term := solution[name]) is not None}


def _provenance_problems(
    backend: EmbeddedBackend,
    policy: UriPolicy,
    source_dir: Path,
    graph_files: dict[str, set[Path]],
) -> list[SourceError]:
    """Every named graph must have a documented source; every quote must be verbatim."""
    problems: list[SourceError] = []

    def error(graph: str, reason: str) -> SourceError:
        path = min(graph_files.get(graph, {source_dir / "data"}))
        return SourceError(path, reason, first_line_mentioning(path, graph, policy))

    undocumented = sorted(
        (row["g"], row["size"])
        for row in _rows(backend, queries.provenance_by_graph(policy))
        if row["kind"] == "none"
    )
    for graph, size in undocumented:
        problems.append(
            error(
                graph,
                f"graph <{policy.relative(graph)}> ({size} statements) has no "
                "documented source: describe it in <graph/sources> as a com:Excerpt with "
                "com:text and prov:wasQuotedFrom, or give it prov:wasDerivedFrom",
            )
        )

    # Excerpts come sorted by IRI, which mostly groups them by article: a small cache of
    # article texts keeps memory flat however many articles there are.
    @lru_cache(maxsize=64)
    def article_text(text_file: Path) -> str | None:
        return _normalise(text_file.read_text(encoding="utf-8")) if text_file.is_file() else None

    articles = source_dir / ARTICLES_FOLDER
    for row in _rows(backend, queries.excerpts(policy)):
        slug = row["article"].rstrip("/").rsplit("/", 1)[-1]
        text_file = articles / f"{slug}.txt"
        text = article_text(text_file)
        excerpt = row["excerpt"]
        if text is None:
            problems.append(error(excerpt, f"article text {text_file} is missing"))
        elif _normalise(row["text"]) not in text:
            problems.append(
                error(
                    excerpt,
                    f"com:text of <{policy.relative(excerpt)}> is not found verbatim in "
                    f"{text_file}: {row['text'][:80]!r}",
                )
            )
    return problems


def _build_id(files: list[SourceFile], base_uri: str, now: datetime) -> str:
    digest = hashlib.sha256(base_uri.encode())
    for source in files:
        digest.update(str(source.path).encode())
        digest.update(source.sha256().encode())
    return f"{now:%Y%m%dT%H%M%SZ}-{digest.hexdigest()[:8]}"


def build(settings: Settings, say: Say = _quiet) -> Release:
    """Build and publish a release; on failure the current release is left untouched."""
    now = datetime.now(UTC).replace(microsecond=0)
    policy = UriPolicy(settings.base_uri)
    staging = staging_folder(settings.build_dir)
    try:
        checked = check(settings, staging / "store", say)
        build_id = unique_build_id(
            settings.build_dir, _build_id(checked.files, settings.base_uri, now)
        )
        store = checked.store
        backend = EmbeddedBackend(store)
        checked.report.graph.serialize(staging / "validation-report.ttl", format="turtle")
        for name, graph in (("ontology", policy.ontology_graph), ("shapes", policy.shapes_graph)):
            store.dump(
                staging / f"{name}.ttl",
                format=ox.RdfFormat.TURTLE,
                from_graph=ox.NamedNode(graph),
                prefixes=policy.prefixes(),
            )
        say("dumps: writing")
        dumps = write_dumps(store, staging / "dumps", policy.prefixes())
        say("stats: counting")
        stats = compute(backend, policy)
        say("void: describing the dataset")
        void_graph(backend, policy, build_id, now, dumps).serialize(
            staging / "void.ttl", format="turtle"
        )
        manifest = {
            "build_id": build_id,
            "base_uri": settings.base_uri,
            "created": now.isoformat().replace("+00:00", "Z"),
            "publisher_version": version("lod-publisher"),
            "inputs": [
                {"path": str(f.path.relative_to(settings.source_dir)), "sha256": f.sha256()}
                for f in checked.files
            ],
            "triples": stats.triples,
            "quads": stats.quads,
            "graphs": stats.graphs,
            "entities": stats.entities,
            "validation": {
                "conforms": checked.report.conforms,
                "warnings": len(checked.report.findings) - len(checked.report.violations),
            },
            "dumps": [d.to_json() for d in dumps],
        }
        store.flush()
        del backend, store, checked
        write_manifest(staging, manifest)
        say("publish: switching build/current")
        return publish(settings.build_dir, staging, build_id, settings.keep_builds)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
