"""The format registry and content negotiation (RFC 9110 section 12.5.1)."""

from __future__ import annotations

import pytest

from lod_publisher.formats import FORMATS, Kind, by_key, by_media_type, formats_for, negotiate

ENTITY = [by_key(k) for k in ("html", "ttl", "jsonld", "rdf", "nt")]
RESULTS = list(formats_for(Kind.RESULTS))

CHROME = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CURL = "*/*"


@pytest.mark.parametrize(
    ("case", "accept", "expected"),
    [
        ("absent", None, "html"),
        ("empty", "", "html"),
        ("accept_star", "*/*", "html"),
        ("bare_star", "*", "html"),
        ("accept_substar", "application/*", "jsonld"),
        ("accept_substar_text", "text/*", "html"),
        ("specific_beats_wildcard", "*/*;q=0.9, text/turtle", "ttl"),
        ("specific_beats_substar", "text/*;q=0.5, text/turtle", "ttl"),
        ("explicit_priority", "text/turtle;q=0.5, application/rdf+xml;q=0.9", "rdf"),
        ("implicit_priority_first_listed", "application/n-triples, text/turtle", "nt"),
        ("wildcard_exclusion", "text/*, text/html;q=0", "ttl"),
        ("star_exclusion", "*/*, text/html;q=0, text/turtle;q=0", "jsonld"),
        ("charset_parameter", "text/turtle;charset=utf-8", "ttl"),
        (
            "jsonld_profile",
            'application/ld+json;profile="http://www.w3.org/ns/json-ld#compacted"',
            "jsonld",
        ),
        (
            "parameter_specificity",
            "text/turtle;q=0.2, text/turtle;charset=utf-8;q=0.8, text/html;q=0.5",
            "ttl",
        ),
        (
            "several_types",
            "application/rdf+xml;q=0.3, application/ld+json;q=0.7, text/turtle;q=0.5",
            "jsonld",
        ),
        ("alias_xhtml", "application/xhtml+xml", "html"),
        ("alias_x_turtle", "application/x-turtle", "ttl"),
        ("chrome", CHROME, "html"),
        ("firefox", FIREFOX, "html"),
        ("curl_default", CURL, "html"),
        ("case_insensitive", "TEXT/Turtle", "ttl"),
        ("malformed_range_skipped", "garbage, text/turtle", "ttl"),
        ("bad_q_means_zero", "text/turtle;q=abc, application/n-triples;q=0.1", "nt"),
        ("q_above_one_clamped", "text/turtle;q=7, application/n-triples", "ttl"),
    ],
)
def test_negotiate_entity_formats(case: str, accept: str | None, expected: str) -> None:
    chosen = negotiate(accept, ENTITY)
    assert chosen is not None, case
    assert chosen.key == expected, case


@pytest.mark.parametrize(
    "accept",
    ["image/png", "text/turtle;q=0", "application/pdf, image/*", "*/*;q=0"],
)
def test_nothing_acceptable_gives_none(accept: str) -> None:
    assert negotiate(accept, ENTITY) is None


def test_results_negotiation_defaults_to_json_and_honours_tsv() -> None:
    assert negotiate("*/*", RESULTS) == by_key("srj")
    assert negotiate("text/tab-separated-values", RESULTS) == by_key("tsv")
    assert negotiate("application/json", RESULTS) == by_key("srj")
    assert negotiate("text/turtle", RESULTS) is None


def test_registry_keys_and_media_types_are_unique() -> None:
    keys = [f.key for f in FORMATS]
    media = [mt for f in FORMATS for mt in f.media_types]
    assert len(keys) == len(set(keys))
    assert len(media) == len(set(media))


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.key)
def test_lookup_round_trips(fmt: object) -> None:
    assert by_key(fmt.key) is fmt  # type: ignore[attr-defined]
    assert by_media_type(fmt.media_type + "; charset=utf-8") is fmt  # type: ignore[attr-defined]


def test_a_charset_we_do_not_serve_does_not_match() -> None:
    assert negotiate(
        "text/turtle;charset=iso-8859-1, application/n-triples;q=0.5", ENTITY
    ) == by_key("nt")
