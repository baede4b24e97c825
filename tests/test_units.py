"""Small pure pieces: settings, IRI policy, query form detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from lod_publisher.errors import ConfigError
from lod_publisher.settings import SETTINGS, load_settings
from lod_publisher.store.backend import QueryForm, query_form
from lod_publisher.uris import UriPolicy, sparql_iri


def test_settings_precedence_flag_over_env_over_default() -> None:
    env = {"LOD_PORT": "9001", "LOD_BASE_URI": "http://127.0.0.1:9000"}
    assert load_settings({}, environ={}).port == 8080
    assert load_settings({}, environ=env).port == 9001
    assert load_settings({"port": 9002}, environ=env).port == 9002
    assert load_settings({}, environ=env).base_uri == "http://127.0.0.1:9000/"
    assert load_settings({"build_dir": "b"}, environ={}).build_dir == Path("b")
    assert load_settings({}, environ={}).access_log is False
    assert load_settings({}, environ={"LOD_ACCESS_LOG": "yes"}).access_log is True
    assert load_settings({}, environ={"LOD_QUICK_QUERY_MS": "0"}).quick_query_ms == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("port", "0"),
        ("port", "http"),
        ("base_uri", "ftp://x/"),
        ("query_timeout", "-1"),
        ("query_timeout", "nan"),
        ("quick_query_ms", "-1"),
        ("quick_query_ms", "nan"),
        ("access_log", "maybe"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"LOD_{name.upper()}="):
        load_settings({}, environ={f"LOD_{name.upper()}": value})


def test_every_setting_has_help_and_parses_its_default() -> None:
    for spec in SETTINGS:
        assert spec.help.endswith(".")
        spec.parse(spec.default)


@pytest.mark.parametrize(
    "iri",
    [
        "http://example.org/a>b",
        "http://example.org/a b",
        'http://example.org/"',
        "http://example.org/{x}",
        "relative/path",
        "http://example.org/a\nb",
        "http://example.org/\\u003e",
    ],
)
def test_sparql_iri_refuses_what_could_break_a_query(iri: str) -> None:
    with pytest.raises(ValueError):
        sparql_iri(iri)


def test_sparql_iri_accepts_unicode_iris() -> None:
    assert sparql_iri("http://example.org/Жезказган") == "<http://example.org/Жезказган>"


def test_policy_derives_everything_from_the_base() -> None:
    policy = UriPolicy("http://127.0.0.1:9000/")
    assert policy.entity("place", "astana") == "http://127.0.0.1:9000/id/place/astana"
    assert policy.term("Person") == "http://127.0.0.1:9000/ontology/Person"
    assert policy.compact("http://127.0.0.1:9000/ontology/Person") == "com:Person"
    assert policy.relative("http://127.0.0.1:9000/id/x") == "id/x"
    with pytest.raises(ValueError):
        UriPolicy("http://127.0.0.1:9000")


@pytest.mark.parametrize(
    ("query", "form"),
    [
        ("SELECT * WHERE { ?s ?p ?o }", QueryForm.SELECT),
        ("  # a comment with SELECT\nASK { ?s ?p ?o }", QueryForm.ASK),
        (
            "PREFIX ex: <http://e/>\nBASE <http://b/>\nconstruct where { ?s ?p ?o }",
            QueryForm.CONSTRUCT,
        ),
        ("PREFIX : <http://e/> DESCRIBE :x", QueryForm.DESCRIBE),
        ("INSERT DATA { <http://a> <http://b> <http://c> }", None),
        ("LOAD <http://example.org/x>", None),
        ("", None),
    ],
)
def test_query_form(query: str, form: QueryForm | None) -> None:
    assert query_form(query) is form
