"""The state one server process needs: settings, the published release and its backend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from lod_publisher.releases import Release, current_release
from lod_publisher.settings import Settings
from lod_publisher.store.backend import Backend
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.uris import UriPolicy


@dataclass
class Site:
    """Everything the views read; kept in ``app.extensions["lod"]``, never in module globals."""

    settings: Settings
    release: Release
    backend: Backend
    policy: UriPolicy

    @classmethod
    def open(cls, settings: Settings) -> Site:
        release = current_release(settings.build_dir)
        backend = EmbeddedBackend.open(release.store_path)
        return cls(settings, release, backend, UriPolicy(release.base_uri))

    @property
    def last_modified(self) -> datetime:
        return datetime.fromisoformat(str(self.release.manifest["created"]))

    @property
    def last_modified_http(self) -> str:
        return format_datetime(self.last_modified, usegmt=True)
