"""The README stays true: every setting documented, the two commands named, CI runs the tests."""

from __future__ import annotations

import re

from tests.conftest import PROJECT

from lod_publisher.releases import Release
from lod_publisher.settings import SETTINGS
from lod_publisher.store.embedded import EmbeddedBackend

README = (PROJECT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table() -> None:
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| (\w+) \| `(LOD_\w+)` \|", README, re.MULTILINE)
    }
    for spec in SETTINGS:
        assert rows.get(spec.name) == spec.env, (
            f"{spec.name} ({spec.env}) is missing from the README"
        )
        row = next(line for line in README.splitlines() if line.startswith(f"| {spec.name} |"))
        assert f"`{spec.default}`" in row, f"README gives another default for {spec.name}"
    assert set(rows) == {spec.name for spec in SETTINGS}, (
        "README documents a setting that does not exist"
    )


def test_readme_names_the_two_commands_and_ci_runs_the_test_one() -> None:
    assert "./dev serve" in README and "./dev test" in README
    ci = (PROJECT / ".ci" / "run").read_text(encoding="utf-8")
    assert "./dev test" in ci


def test_readme_sparql_example_returns_the_four_war_dead_claims(release: Release) -> None:
    query = re.search(r"```sparql\n(.*?)```", README, re.S)
    assert query, "the README has a SPARQL example"
    text = query.group(1).replace("http://127.0.0.1:8080/", release.base_uri)
    rows = EmbeddedBackend.open(release.store_path).select(text)
    articles = sorted(str(r["article"]).rsplit("/", 1)[1] for r in rows)
    assert articles == ["moscow-times-2025", "moscow-times-2025", "ulytau-2025", "xinhua-2020"]
    assert all("sentence" in r for r in rows)
