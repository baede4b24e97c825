"""The ``lod-publisher`` command: build, validate, serve, query, stats."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from lod_publisher import formats
from lod_publisher.cli_remote import load as load_command
from lod_publisher.errors import LodError, QueryError
from lod_publisher.releases import current_release
from lod_publisher.settings import SPECS_BY_NAME, Settings, load_settings
from lod_publisher.stats import compute, format_stats
from lod_publisher.store.backend import DatasetSpec, QueryForm, query_form
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.uris import UriPolicy

F = TypeVar("F", bound=Callable[..., Any])


def setting_option(name: str, *flags: str) -> Callable[[F], F]:
    """A CLI flag for a setting; its help and default come from the settings table."""
    spec = SPECS_BY_NAME[name]
    flag = "--" + name.replace("_", "-")
    return click.option(
        flag,
        *flags,
        name,
        default=None,
        help=f"{spec.help} [env {spec.env}; default {spec.default}]",
    )


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(overrides)
    except LodError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name="lod-publisher")
def main() -> None:
    """Publish the commemoration knowledge graph as Linked Open Data."""


@main.command()
@setting_option("source_dir")
@setting_option("build_dir")
@setting_option("base_uri")
@setting_option("keep_builds")
def build(**overrides: Any) -> None:
    """Parse, validate and publish a new release (the old one stays if anything fails)."""
    settings = _settings(**overrides)
    started = time.monotonic()

    def say(line: str) -> None:
        click.echo(f"[{time.monotonic() - started:8.1f}s] {line}", err=True)

    from lod_publisher.build import build as run_build  # pySHACL: only for these commands

    try:
        release = run_build(settings, say)
    except LodError as exc:
        click.echo(str(exc), err=True)
        click.echo(
            f"Build failed; the published build in {settings.build_dir}/ is unchanged.", err=True
        )
        sys.exit(1)
    m = release.manifest
    click.echo(
        f"Published {m['build_id']}: {m['triples']} triples, {m['quads']} statements in "
        f"{m['graphs']} graphs, {m['entities']} entities, base {m['base_uri']}"
    )
    for dump in m["dumps"]:
        click.echo(
            f"  {release.dumps_path / dump['filename']}  {dump['sha256']}  {dump['statements']}"
        )


@main.command()
@setting_option("source_dir")
@setting_option("base_uri")
def validate(**overrides: Any) -> None:
    """Check syntax, provenance and SHACL shapes; print the report; exit 1 on a violation."""
    settings = _settings(**overrides)
    from lod_publisher.build import check
    from lod_publisher.validation import format_report

    try:
        checked = check(settings)
    except LodError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(format_report(checked.report, checked.policy))


@main.command()
@setting_option("build_dir")
@setting_option("host")
@setting_option("port", "-p")
@setting_option("workers", "-w")
@setting_option("threads")
@setting_option("access_log")
@setting_option("query_timeout")
@setting_option("max_rows")
@setting_option("max_query_bytes")
@setting_option("evaluators")
@setting_option("query_memory")
@setting_option("quick_query_ms")
@setting_option("result_cache_mb")
@setting_option("service_allowlist")
@setting_option("backend")
@setting_option("endpoint")
@setting_option("remote_timeout")
@click.option("--dev", is_flag=True, help="Use Flask's development server instead of Granian.")
def serve(dev: bool, **overrides: Any) -> None:
    """Serve the published build over HTTP."""
    from lod_publisher.server import serve as run_server

    settings = _settings(**overrides)
    try:
        run_server(settings, dev=dev)
    except LodError as exc:
        raise click.ClickException(str(exc)) from None


_QUERY_FORMATS = [
    f.key
    for f in formats.FORMATS
    if f.carries(formats.Kind.RESULTS) or f.carries(formats.Kind.GRAPH)
]


@main.command()
@click.argument("query_text", metavar="QUERY")
@click.option(
    "--format",
    "-f",
    "format_key",
    type=click.Choice(_QUERY_FORMATS),
    default=None,
    help="Result format (default: tsv for SELECT/ASK, ttl for CONSTRUCT/DESCRIBE).",
)
@setting_option("build_dir")
def query(query_text: str, format_key: str | None, **overrides: Any) -> None:
    """Run a SPARQL query (text, @file, or - for stdin) against the published build."""
    settings = _settings(**overrides)
    if query_text == "-":
        query_text = sys.stdin.read()
    elif query_text.startswith("@"):
        query_text = Path(query_text[1:]).read_text(encoding="utf-8")
    form = query_form(query_text)
    graph_result = form in (QueryForm.CONSTRUCT, QueryForm.DESCRIBE)
    result_format = formats.by_key(format_key or ("ttl" if graph_result else "tsv"))
    try:
        backend = EmbeddedBackend.open(current_release(settings.build_dir).store_path)
        output = backend.execute(query_text, result_format, DatasetSpec()).payload
    except QueryError as exc:
        raise click.ClickException(f"query rejected: {exc}") from None
    except LodError as exc:
        raise click.ClickException(str(exc)) from None
    sys.stdout.buffer.write(output)


@main.command()
@setting_option("build_dir")
def stats(**overrides: Any) -> None:
    """Print triples, entities per class and the share of statements with provenance."""
    settings = _settings(**overrides)
    try:
        release = current_release(settings.build_dir)
    except LodError as exc:
        raise click.ClickException(str(exc)) from None
    backend = EmbeddedBackend.open(release.store_path)
    policy = UriPolicy(release.base_uri)
    click.echo(f"Build {release.build_id}, base {release.base_uri}")
    click.echo(format_stats(compute(backend, policy), policy))


main.add_command(load_command)
