"""Settings: one table of name, environment variable, default and help text.

Every setting can be given as a CLI flag or a ``LOD_*`` environment variable; the
README documents the same table (``tests/test_docs.py`` keeps them in step).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from lod_publisher.errors import ConfigError


@dataclass(frozen=True)
class SettingSpec:
    """One row of the settings table."""

    name: str
    default: str
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env(self) -> str:
        return "LOD_" + self.name.upper()


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:  # also refuses nan
        raise ValueError("must be greater than 0")
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0:  # also refuses nan
        raise ValueError("must be 0 or more")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError("must be between 1 and 65535")
    return value


def _iri_list(raw: str) -> tuple[str, ...]:
    """Absolute http(s) IRIs separated by white space; empty for none."""
    iris = tuple(raw.split())
    for iri in iris:
        if not iri.startswith(("http://", "https://")) or any(c in iri for c in '<>"{}|^`\\'):
            raise ValueError(f"{iri!r} is not an absolute http(s) IRI")
    return iris


def _base_uri(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must be an absolute http(s) IRI")
    return raw if raw.endswith("/") else raw + "/"


def _yes_no(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("yes", "true", "on", "1"):
        return True
    if value in ("no", "false", "off", "0"):
        return False
    raise ValueError("must be yes or no")


def _backend(raw: str) -> str:
    if raw not in ("embedded", "remote"):
        raise ValueError("must be `embedded` or `remote`")
    return raw


def _endpoint_url(raw: str) -> str:
    """An absolute http(s) URL, or empty for none."""
    if raw and not raw.startswith(("http://", "https://")):
        raise ValueError("must be an absolute http(s) URL, e.g. http://127.0.0.1:7878/query")
    return raw


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("base_uri", "http://127.0.0.1:8080/", "Base of every entity IRI; the data's relative IRIs resolve against it.", _base_uri),
    SettingSpec("source_dir", ".", "Project folder holding ontology/, data/ and shapes/.", Path),
    SettingSpec("build_dir", "build", "Where `build` writes releases and `serve` reads the current one.", Path),
    SettingSpec("host", "127.0.0.1", "Address the server binds to."),
    SettingSpec("port", "8080", "Port the server listens on.", _port),
    SettingSpec("workers", "2", "Number of server worker processes.", _positive_int),
    SettingSpec("threads", "4", "Python threads per worker process that run requests; a slow request holds one while the others go on.", _positive_int),
    SettingSpec("access_log", "no", "Log one line per HTTP request (Granian's access log; about 0.1 ms a request). SPARQL queries are logged either way.", _yes_no),
    SettingSpec("keep_builds", "3", "How many releases `build` keeps on disk (the current one included).", _positive_int),
    SettingSpec("query_timeout", "30", "Seconds a SPARQL query may run before it is stopped.", _positive_float),
    SettingSpec("max_rows", "10000", "Most solutions (or triples) a SPARQL result holds; the rest is cut and the response says so.", _positive_int),
    SettingSpec("max_query_bytes", "1048576", "Largest SPARQL request body or query text accepted, in bytes.", _positive_int),
    SettingSpec("evaluators", "4", "Processes that evaluate users' SPARQL queries, shared by all the workers: how many queries run at once. Each opens the store with its own caches (about 40-90 MB at 1M triples). One starts with the server; another when a query has waited 50 ms with every one busy, and it leaves after a minute without a query.", _positive_int),
    SettingSpec("query_memory", "2048", "Address space, in MiB, of each process that evaluates SPARQL queries.", _positive_int),
    SettingSpec("quick_query_ms", "20", "A query an evaluator has answered within this many milliseconds (and 32 MiB) runs in the worker itself the next times it is asked on this build, without the trip to an evaluator (about 0.3 ms); 0: every query goes to an evaluator.", _non_negative_float),
    SettingSpec("result_cache_mb", "16", "MiB of SPARQL answers each worker keeps to send again, without running the query, for the same request on this build (answers that depend on nothing but the data: not NOW(), RAND(), UUID(), STRUUID(), BNODE(), SERVICE or other functions); 0: off.", _non_negative_float),
    SettingSpec("service_allowlist", "", "SPARQL endpoints a query may call with SERVICE (IRIs, space-separated); empty: the server never connects out.", _iri_list),
    SettingSpec("backend", "embedded", "Which store answers SPARQL: `embedded` (the build's own) or `remote` (the store at `endpoint`, filled by `lod-publisher load`).", _backend),
    SettingSpec("endpoint", "", "SPARQL 1.1 query endpoint of the remote store, e.g. http://127.0.0.1:7878/query (Oxigraph) or http://127.0.0.1:8890/sparql (Virtuoso).", _endpoint_url),
    SettingSpec("remote_timeout", "30", "Seconds each request to the remote store may take; then the page answers 504.", _positive_float),
)  # fmt: skip

SPECS_BY_NAME: dict[str, SettingSpec] = {spec.name: spec for spec in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one command run."""

    base_uri: str
    source_dir: Path
    build_dir: Path
    host: str
    port: int
    workers: int
    threads: int
    access_log: bool
    keep_builds: int
    query_timeout: float
    max_rows: int
    max_query_bytes: int
    evaluators: int
    query_memory: int
    quick_query_ms: float
    result_cache_mb: float
    service_allowlist: tuple[str, ...]
    backend: str
    endpoint: str
    remote_timeout: float


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve settings: explicit overrides (CLI flags), then ``LOD_*`` variables, then defaults."""
    environ = os.environ if environ is None else environ
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    values: dict[str, Any] = {}
    for field in fields(Settings):
        spec = SPECS_BY_NAME[field.name]
        raw = overrides.get(spec.name, environ.get(spec.env, spec.default))
        try:
            values[spec.name] = spec.parse(str(raw))
        except ValueError as exc:
            raise ConfigError(f"{spec.env}={raw!r}: {exc}") from exc
    return Settings(**values)


def as_environ(settings: Settings) -> dict[str, str]:
    """``settings`` as ``LOD_*`` variables that :func:`load_settings` reads back unchanged.

    How a server hands the resolved settings to worker processes it starts.
    """
    environ = {}
    for field in fields(Settings):
        value = getattr(settings, field.name)
        text = " ".join(value) if isinstance(value, tuple) else str(value)
        environ[SPECS_BY_NAME[field.name].env] = text
    return environ
