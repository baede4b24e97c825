"""The build: shipped data validates; each broken fixture fails with file, line and reason;
a failed build leaves the published release untouched."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import PROJECT, project_settings

from lod_publisher import build as build_module
from lod_publisher.build import build
from lod_publisher.cli import main
from lod_publisher.errors import BuildError
from lod_publisher.releases import Release, current_release
from lod_publisher.settings import Settings

BROKEN = sorted((Path(__file__).parent / "fixtures" / "broken").glob("*"))
INSTALLED_AS = Path("data") / "zz-broken.trig"


def copy_project(target: Path) -> Path:
    for folder in ("ontology", "shapes", "data"):
        shutil.copytree(PROJECT / folder, target / folder)
    return target


def expectations(fixture: Path) -> tuple[list[str], str | None]:
    lines = fixture.read_text(encoding="utf-8").splitlines()
    expected = [line.removeprefix("# expect: ") for line in lines if line.startswith("# expect: ")]
    marker = next(
        (line.removeprefix("# line: ") for line in lines if line.startswith("# line: ")), None
    )
    return expected, marker


def test_there_are_at_least_twelve_broken_fixtures() -> None:
    assert len(BROKEN) >= 12


def test_shipped_data_validates() -> None:
    result = CliRunner().invoke(
        main, ["validate", "--source-dir", str(PROJECT)], env={"LOD_BASE_URI": None}
    )
    assert result.exit_code == 0, result.output
    assert "Conforms" in result.output


def is_shacl_stage(fixture: Path) -> bool:
    """Fixtures that parse and have sources fail only at SHACL: they can share one run."""
    return "Violation" in expectations(fixture)[0]


def marker_line(path: Path, marker: str) -> int:
    """The first non-comment line of ``path`` containing ``marker``."""
    return next(
        number
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if marker in text and not text.startswith("#")
    )


def validate_with(project: Path, fixtures: list[Path]) -> tuple[int, str, dict[Path, Path]]:
    """Install each fixture as its own data file; run `lod-publisher validate` once."""
    installed = {}
    for fixture in fixtures:
        target = project / "data" / f"zz-broken-{fixture.stem}.trig"
        shutil.copy(fixture, target)
        installed[fixture] = target
    result = CliRunner().invoke(main, ["validate", "--source-dir", str(project)])
    return result.exit_code, result.output, installed


@pytest.fixture(scope="module")
def shacl_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[Path, Path]]:
    """One validation of all SHACL-stage fixtures together (SHACL takes seconds per run)."""
    project = copy_project(tmp_path_factory.mktemp("shacl") / "project")
    return validate_with(project, [f for f in BROKEN if is_shacl_stage(f)])


@pytest.mark.parametrize("fixture", BROKEN, ids=lambda p: p.stem)
def test_broken_data_fails_with_file_line_and_reason(
    fixture: Path, tmp_path: Path, shacl_run: tuple[int, str, dict[Path, Path]]
) -> None:
    expected, marker = expectations(fixture)
    assert expected, f"{fixture.name} states what it expects"
    if is_shacl_stage(fixture):
        exit_code, output, installed = shacl_run
        # Each finding is a block; one block must hold all of this fixture's expectations.
        blocks = output.split("\n\n")
    else:
        exit_code, output, installed = validate_with(copy_project(tmp_path / "project"), [fixture])
        blocks = [output]
    assert exit_code == 1, output
    target = installed[fixture]
    wanted = [text.replace("zz-broken.trig", target.name) for text in expected]
    if marker is not None:
        wanted.append(f"{target}:{marker_line(target, marker)}:")
    assert any(all(text in block for text in wanted) for block in blocks), (
        f"{fixture.name}: no finding with {wanted} in\n{output}"
    )


def test_a_broken_ontology_file_is_named(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    (project / "ontology" / "zz-extra.ttl").write_text(
        "@prefix com: <ontology/> .\ncom:X a \n", encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["validate", "--source-dir", str(project)])
    assert result.exit_code == 1
    assert "zz-extra.ttl:3:" in result.output


def published_state(build_dir: Path) -> tuple[str, bytes, list[str]]:
    link = build_dir / "current"
    return (
        str(link.readlink()),
        (link / "manifest.json").read_bytes(),
        sorted(p.name for p in (build_dir / "releases").iterdir()),
    )


def test_a_failed_build_leaves_the_published_build_unchanged(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    build_dir = tmp_path / "build"
    settings = project_settings(build_dir, 8080, source_dir=project)
    first = build(settings)
    before = published_state(build_dir)
    for fixture in (BROKEN[0], BROKEN[7]):  # a syntax error, and a SHACL violation
        shutil.copy(fixture, project / INSTALLED_AS)
        with pytest.raises(BuildError):
            build(settings)
        assert published_state(build_dir) == before
        assert current_release(build_dir).build_id == first.build_id
    (project / INSTALLED_AS).unlink()
    second = build(settings)
    assert second.build_id != first.build_id
    assert current_release(build_dir).build_id == second.build_id


def test_cli_build_reports_failure_and_keeps_the_release(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    build_dir = tmp_path / "build"
    runner = CliRunner()
    ok = runner.invoke(main, ["build", "--source-dir", str(project), "--build-dir", str(build_dir)])
    assert ok.exit_code == 0, ok.output
    before = published_state(build_dir)
    shutil.copy(BROKEN[0], project / INSTALLED_AS)
    failed = runner.invoke(
        main, ["build", "--source-dir", str(project), "--build-dir", str(build_dir)]
    )
    assert failed.exit_code == 1
    assert "unchanged" in failed.output
    assert published_state(build_dir) == before


def test_release_holds_store_dumps_manifest_and_reports(
    release: Release, settings: Settings
) -> None:
    folder = release.path
    for name in (
        "manifest.json",
        "void.ttl",
        "validation-report.ttl",
        "ontology.ttl",
        "shapes.ttl",
    ):
        assert (folder / name).is_file(), name
    names = {d["filename"] for d in release.manifest["dumps"]}
    assert names == {
        "commemoration.ttl",
        "commemoration.nt.gz",
        "commemoration.jsonld",
        "commemoration.trig",
        "commemoration.nq.gz",
    }
    assert release.manifest["base_uri"] == settings.base_uri
    assert all(len(d["sha256"]) == 64 and d["statements"] > 0 for d in release.manifest["dumps"])


def test_large_data_validates_in_batches_unless_it_has_blank_subjects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above BATCHED_ABOVE the batches run, with pySHACL's findings; the load phase sees
    blank-node subjects in data graphs and then keeps the whole-graph path."""
    monkeypatch.setattr(build_module, "BATCHED_ABOVE", 0)
    project = copy_project(tmp_path / "project")
    fixture = next(f for f in BROKEN if f.name.startswith("15-"))  # a SHACL-stage failure
    shutil.copy(fixture, project / INSTALLED_AS)
    said: list[str] = []
    with pytest.raises(BuildError) as batched:
        build_module.check(
            project_settings(tmp_path / "b1", 8080, source_dir=project), None, said.append
        )
    assert "validate: SHACL in batches of focus nodes" in said
    blank = project / "data" / "zz-blank.trig"
    blank.write_text(
        "<id/excerpt/leusden-2025-01> { [] <http://www.w3.org/2000/01/rdf-schema#comment> "
        '"a blank subject"@en . }\n',
        encoding="utf-8",
    )
    said.clear()
    with pytest.raises(BuildError) as whole:
        build_module.check(
            project_settings(tmp_path / "b2", 8080, source_dir=project), None, said.append
        )
    assert "validate: SHACL on the whole data graph" in said
    assert str(whole.value) == str(batched.value)
