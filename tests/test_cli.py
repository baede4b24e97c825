"""The command line: query and validate output, and the README's publish-on-another-port recipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from rdflib import Graph, URIRef
from tests.conftest import PROJECT, assert_clean_log, fetch, free_port, stop_server

from lod_publisher.cli import main
from lod_publisher.releases import Release


def test_query_command_formats(release: Release) -> None:
    build_dir = str(release.path.parent.parent)
    runner = CliRunner()
    tsv = runner.invoke(
        main, ["query", "--build-dir", build_dir, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"]
    )
    assert tsv.exit_code == 0, tsv.output
    assert tsv.output.splitlines()[0] == "?n"
    assert int(tsv.output.splitlines()[1].split("^^")[0].strip('"')) == release.manifest["triples"]
    csv = runner.invoke(main, ["query", "-f", "csv", "--build-dir", build_dir, "ASK { ?s ?p ?o }"])
    assert csv.exit_code == 0 and "true" in csv.output
    construct = runner.invoke(
        main, ["query", "--build-dir", build_dir, "CONSTRUCT WHERE { ?s a ?o } LIMIT 3"]
    )
    assert len(Graph().parse(data=construct.output, format="turtle")) == 3
    bad = runner.invoke(main, ["query", "--build-dir", build_dir, "SELECT WHERE {"])
    assert bad.exit_code != 0
    assert "query rejected" in bad.output


def test_commands_without_a_build_say_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["stats", "--build-dir", str(tmp_path / "none")])
    assert result.exit_code != 0
    assert "lod-publisher build" in result.output


def test_bad_setting_names_the_variable() -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "99999"])
    assert result.exit_code != 0
    assert "LOD_PORT" in result.output


def test_readme_recipe_publishes_on_another_port(tmp_path: Path) -> None:
    """`LOD_BASE_URI=http://127.0.0.1:PORT/ LOD_BUILD_DIR=... lod-publisher build &&
    LOD_BUILD_DIR=... lod-publisher serve --port PORT`: every IRI in the data dereferences."""
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOD_")}
    env.update(
        LOD_BASE_URI=base,
        LOD_BUILD_DIR=str(tmp_path / f"build-{port}"),
        LOD_SOURCE_DIR=str(PROJECT),
    )
    command = [sys.executable, "-m", "lod_publisher"]
    subprocess.run([*command, "build"], env=env, check=True, capture_output=True)
    serve_env = {k: v for k, v in env.items() if k != "LOD_BASE_URI"}
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=serve_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(base)
        dump = Graph().parse(
            data=fetch(base + "dumps/latest/commemoration.ttl").body, format="turtle"
        )
        ours = sorted(
            {
                str(t)
                for triple in dump
                for t in triple
                if isinstance(t, URIRef) and str(t).startswith(base)
            }
        )
        assert len(ours) > 100
        failures = []
        for iri in ours:
            first = fetch(iri, {"Accept": "text/turtle"})
            if first.status == 200:  # a document URL (dumps, void) is its own representation
                continue
            if first.status != 303 or fetch(first.header("Location")).status != 200:
                failures.append(f"{iri}: {first.status}")
        assert not failures, failures[:10]
    finally:
        assert_clean_log(stop_server(server))


def _wait_until_up(base: str) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if fetch(base).status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"server at {base} did not start")
