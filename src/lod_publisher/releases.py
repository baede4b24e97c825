"""The on-disk layout of builds, and the atomic switch that publishes one.

::

    build/
      current -> releases/20261121T223000Z-1a2b3c4d   (symlink, replaced atomically)
      releases/<build-id>/
        manifest.json           build id, base IRI, counts, dumps with SHA-256
        store/                  the pyoxigraph store the server opens read-only
        dumps/                  commemoration.ttl, .nt.gz, .jsonld, .trig, .nq.gz, SHA256SUMS
        validation-report.ttl   the SHACL report of this build
        void.ttl                VoID and DCAT description, counted from the store
        ontology.ttl, shapes.ttl

A failed build never touches ``current``: it works in a hidden folder that is
deleted on failure and renamed into place on success.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lod_publisher.errors import NoBuildError

MANIFEST = "manifest.json"
BUILD_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}(\.\d+)?")


@dataclass(frozen=True)
class Release:
    """One finished build, read from its folder."""

    path: Path
    manifest: dict[str, Any]

    @property
    def build_id(self) -> str:
        return str(self.manifest["build_id"])

    @property
    def base_uri(self) -> str:
        return str(self.manifest["base_uri"])

    @property
    def store_path(self) -> Path:
        return self.path / "store"

    @property
    def dumps_path(self) -> Path:
        return self.path / "dumps"

    def dump_names(self) -> tuple[str, ...]:
        """The files a client may download from this release's dumps folder."""
        return (*(str(d["filename"]) for d in self.manifest["dumps"]), "SHA256SUMS")

    @classmethod
    def load(cls, path: Path) -> Release:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        return cls(path, manifest)


def current_release(build_dir: Path) -> Release:
    """The published release, or NoBuildError saying how to make one."""
    link = build_dir / "current"
    if not (link / MANIFEST).is_file():
        raise NoBuildError(
            f"no published build in {build_dir}/: run `lod-publisher build` first "
            "(or set LOD_BUILD_DIR to the folder a build wrote)"
        )
    return Release.load(link.resolve())


def find_release(build_dir: Path, build_id: str) -> Release | None:
    """A release still on disk by its id (ids are checked, so no path can escape)."""
    if not BUILD_ID.fullmatch(build_id):
        return None
    folder = build_dir / "releases" / build_id
    return Release.load(folder) if (folder / MANIFEST).is_file() else None


def staging_folder(build_dir: Path) -> Path:
    """A fresh hidden folder inside ``releases/`` to build into."""
    releases = build_dir / "releases"
    releases.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=releases))
    staging.chmod(0o755)  # mkdtemp makes it private; a release is published to all
    return staging


def unique_build_id(build_dir: Path, build_id: str) -> str:
    """``build_id``, suffixed if a release of that name exists (two builds in one second)."""
    candidate, n = build_id, 1
    while (build_dir / "releases" / candidate).exists():
        n += 1
        candidate = f"{build_id}.{n}"
    return candidate


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / MANIFEST).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def publish(build_dir: Path, staging: Path, build_id: str, keep: int) -> Release:
    """Move a finished staging folder into place and switch ``current`` to it atomically."""
    releases = build_dir / "releases"
    final = releases / build_id
    staging.rename(final)
    link = build_dir / "current"
    temporary_link = build_dir / f".current-{build_id}"
    temporary_link.unlink(missing_ok=True)
    temporary_link.symlink_to(final.relative_to(build_dir))
    temporary_link.replace(link)  # rename(2) is atomic: readers see the old or the new
    _prune(releases, keep, current=final)
    return Release.load(final)


def _prune(releases: Path, keep: int, current: Path) -> None:
    """Delete all but the ``keep`` newest releases (build ids sort by time)."""
    finished = sorted(p for p in releases.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in finished[:-keep]:
        if old != current:
            shutil.rmtree(old, ignore_errors=True)
