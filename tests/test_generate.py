"""bench/generate.py: synthetic data that passes the build's checks, at the size asked, every time the same."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pyoxigraph as ox
import pytest
from tests.conftest import PROJECT

from lod_publisher import build as build_module
from lod_publisher.build import check
from lod_publisher.settings import load_settings

TARGET = 3000


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_generate", PROJECT / "bench" / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_generated_data_passes_the_build_checks_at_the_size_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _generator().generate(TARGET, tmp_path, seed=1)
    settings = load_settings({"source_dir": tmp_path}, environ={})
    checked = check(settings)
    assert checked.report.conforms
    lines: list[str] = []
    monkeypatch.setattr(build_module, "BATCHED_ABOVE", 0)  # the path large data takes
    assert check(settings, say=lines.append).report.conforms
    assert "validate: SHACL in batches of focus nodes" in lines
    excluded = {checked.policy.ontology_graph, checked.policy.shapes_graph}
    data_triples = {
        (q.subject, q.predicate, q.object)
        for q in checked.store
        if isinstance(q.graph_name, ox.NamedNode) and q.graph_name.value not in excluded
    }
    assert len(data_triples) == written
    assert abs(written - TARGET) <= TARGET * 0.1
    assert sorted(p.name for p in (tmp_path / "data").glob("*.trig"))[0] == "authorities.trig"
    assert any((tmp_path / "data" / "articles").glob("synthetic-*.txt"))


def test_the_same_arguments_give_the_same_bytes(tmp_path: Path) -> None:
    generator = _generator()
    generator.generate(TARGET, tmp_path / "a", seed=7)
    generator.generate(TARGET, tmp_path / "b", seed=7)
    generator.generate(TARGET, tmp_path / "c", seed=8)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
