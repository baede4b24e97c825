"""The state one server process needs: settings, the published release and its backend."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime

from rdflib import Graph

from lod_publisher import queries
from lod_publisher.describe import Description, describe
from lod_publisher.errors import ConfigError
from lod_publisher.lru import BoundedLru
from lod_publisher.releases import Release, current_release
from lod_publisher.search import SearchIndex
from lod_publisher.settings import Settings
from lod_publisher.store.backend import Backend
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.store.remote import RemoteBackend
from lod_publisher.uris import UriPolicy


@dataclass
class Site:
    """Everything the views read; kept in ``app.extensions["lod"]``, never in module globals."""

    settings: Settings
    release: Release
    backend: Backend
    policy: UriPolicy
    # Pages, documents and descriptions are immutable within a build: a second request
    # for one costs a dictionary lookup.
    cache: BoundedLru[tuple[str, ...], bytes] = field(
        default_factory=lambda: BoundedLru(4096, 256 << 20)
    )
    descriptions: BoundedLru[tuple[str, ...], Description | None] = field(
        default_factory=lambda: BoundedLru(1024)
    )
    _known: dict[str, bool] = field(default_factory=dict)
    _vocabularies: dict[str, Graph] = field(default_factory=dict)
    _search_index: SearchIndex | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: Settings) -> Site:
        """The current release, answered by the embedded store or the configured remote one."""
        release = current_release(settings.build_dir)
        backend: Backend
        if settings.backend == "remote":
            if not settings.endpoint:
                raise ConfigError("LOD_BACKEND=remote needs LOD_ENDPOINT (the store's query URL)")
            backend = RemoteBackend(settings.endpoint, release.base_uri, settings.remote_timeout)
        else:
            backend = EmbeddedBackend.open(release.store_path)
        return cls(settings, release, backend, UriPolicy(release.base_uri))

    def known(self, iri: str) -> bool:
        """Whether the dataset says anything about ``iri`` (answers are cached per process)."""
        with self._lock:
            if iri in self._known:
                return self._known[iri]
        answer = self.backend.ask(queries.is_known(iri))
        with self._lock:
            if len(self._known) > 100_000:
                self._known.clear()
            self._known[iri] = answer
        return answer

    def describe(self, iri: str) -> Description | None:
        """The description of ``iri`` (shared by its HTML page and every RDF format)."""
        return self.descriptions.get_or_make(
            (iri,), lambda: describe(self.backend, self.policy, iri)
        )

    def vocabulary(self, graph_iri: str) -> Graph:
        """The ontology or shapes graph, with our prefixes bound, read once per process."""
        with self._lock:
            cached = self._vocabularies.get(graph_iri)
        if cached is None:
            cached = self.backend.construct(queries.graph_triples(graph_iri))
            for prefix, namespace in self.policy.prefixes().items():
                cached.bind(prefix, namespace, replace=True)
            with self._lock:
                self._vocabularies[graph_iri] = cached
        return cached

    def search_index(self) -> SearchIndex:
        """The label index, built on first use."""
        with self._lock:
            index = self._search_index
        if index is None:
            rows = self.backend.select(queries.labels_of_all())
            priority = {p: rank for rank, p in enumerate(queries.LABEL_PROPERTIES)}
            index = SearchIndex(
                (
                    str(r["s"]),
                    str(r["label"]),
                    getattr(r["label"], "language", None),
                    priority.get(str(r["lp"]), len(priority)),
                )
                for r in rows
            )
            with self._lock:
                self._search_index = index
        return index

    @property
    def last_modified(self) -> datetime:
        return datetime.fromisoformat(str(self.release.manifest["created"]))

    @property
    def last_modified_http(self) -> str:
        return format_datetime(self.last_modified, usegmt=True)
