"""``lod-publisher load``: push the published build into a remote triple store.

Registered by the main group: ``main.add_command(load)`` in cli.py.
"""

from __future__ import annotations

from typing import Any

import click

from lod_publisher.errors import LodError
from lod_publisher.releases import current_release
from lod_publisher.settings import SPECS_BY_NAME, load_settings
from lod_publisher.store.http import Credentials
from lod_publisher.store.loading import load as load_release

_BUILD_DIR = SPECS_BY_NAME["build_dir"]


@click.command("load")
@click.option(
    "--endpoint",
    "store_url",
    required=True,
    metavar="URL",
    help="The store's SPARQL 1.1 Graph Store Protocol URL: Oxigraph http://HOST:7878/store, "
    "Virtuoso http://HOST:8890/sparql-graph-crud-auth.",
)
@click.option("--user", envvar="LOD_STORE_USER", help="User, if the store asks [env LOD_STORE_USER].")  # fmt: skip
@click.option(
    "--password",
    envvar="LOD_STORE_PASSWORD",
    help="Password, if the store asks (Basic or Digest) [env LOD_STORE_PASSWORD].",
)
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds each request may take.")  # fmt: skip
@click.option(
    "--chunk-triples",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Triples per request; a blank node's statements are never split across requests.",
)
@click.option(
    "--connections",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Graphs sent at once, each over its own connection.",
)
@click.option(
    "--build-dir",
    "build_dir",
    default=None,
    help=f"{_BUILD_DIR.help} [env {_BUILD_DIR.env}; default {_BUILD_DIR.default}]",
)
def load(
    store_url: str,
    user: str | None,
    password: str | None,
    timeout: float,
    chunk_triples: int,
    connections: int,
    **overrides: Any,
) -> None:
    """Load the published build into a remote store, replacing it graph by graph."""
    try:
        settings = load_settings(overrides)
        release = current_release(settings.build_dir)
        credentials = Credentials(user, password or "") if user else None
        report = load_release(
            release,
            store_url,
            credentials=credentials,
            timeout=timeout,
            chunk_triples=chunk_triples,
            connections=connections,
            log=click.echo,
        )
    except LodError as exc:
        raise click.ClickException(str(exc)) from None
    previous = f" (replacing {report.previous_build_id})" if report.previous_build_id else ""
    click.echo(
        f"Loaded {report.build_id}{previous} into {store_url}: {report.graphs} graphs, "
        f"{report.quads} statements, {report.triples} merged triples, "
        f"{len(report.dropped)} stale graph(s) dropped, {report.requests} requests "
        f"in {report.seconds:.2f} s"
    )
