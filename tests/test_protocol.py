"""The SPARQL 1.1 Protocol query operation, read from raw requests: a table of cases."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import pytest

from lod_publisher.protocol import (
    DescriptionRequest,
    ProtocolError,
    QueryRequest,
    parse_request,
)
from lod_publisher.store.backend import QueryForm

SELECT = "SELECT * WHERE { ?s ?p ?o }"
CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
G1, G2 = "http://example.org/graph/1", "http://example.org/graph/2"
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


def q(text: str) -> bytes:
    return b"query=" + quote(text).encode()


@dataclass(frozen=True)
class Case:
    id: str
    method: str = "GET"
    query_string: bytes = b""
    content_type: str | None = None
    body: bytes = b""
    accept: str | None = None
    # expected: an HTTP status (an error), or what the request reads as
    status: int | None = None
    query: str | None = None
    form: QueryForm | None = None
    default: tuple[str, ...] = ()
    named: tuple[str, ...] = ()
    format: str | None = None  # key of the chosen format
    description: bool = False


CASES = [
    # --- the three request shapes, https://www.w3.org/TR/sparql11-protocol/#query-operation
    Case("get", query_string=q(SELECT), query=SELECT, form=QueryForm.SELECT, format="srj"),
    Case("head", "HEAD", q(SELECT), query=SELECT, form=QueryForm.SELECT, format="srj"),
    Case("post_form", "POST", content_type=FORM, body=q(SELECT), query=SELECT, format="srj"),
    Case("post_form_charset", "POST", content_type=f"{FORM}; charset=UTF-8", body=q(SELECT), query=SELECT),
    Case("post_direct", "POST", content_type=DIRECT, body=SELECT.encode(), query=SELECT, form=QueryForm.SELECT),
    Case("post_direct_charset", "POST", content_type=f"{DIRECT};charset=utf-8", body=SELECT.encode(), query=SELECT),
    Case("post_direct_upper_case_type", "POST", content_type="Application/SPARQL-Query", body=SELECT.encode(), query=SELECT),
    Case("plus_is_space", query_string=b"query=ASK+%7B%7D", query="ASK {}", form=QueryForm.ASK),
    Case("utf8_query", query_string=q('ASK { ?s ?p "Batyrlarğa tağzym" }'), query='ASK { ?s ?p "Batyrlarğa tağzym" }'),
    Case("unknown_parameters_ignored", query_string=q(SELECT) + b"&timeout=5&output=json", query=SELECT),
    # --- the dataset, https://www.w3.org/TR/sparql11-protocol/#dataset
    Case("get_graphs", query_string=q(SELECT) + f"&default-graph-uri={G1}&named-graph-uri={G1}&named-graph-uri={G2}".encode(),
         query=SELECT, default=(G1,), named=(G1, G2)),
    Case("repeated_default_graphs", query_string=q(SELECT) + f"&default-graph-uri={G1}&default-graph-uri={G2}".encode(),
         query=SELECT, default=(G1, G2)),
    Case("post_form_graphs_in_body", "POST", content_type=FORM, body=q(SELECT) + f"&named-graph-uri={G2}".encode(),
         query=SELECT, named=(G2,)),
    Case("post_direct_graphs_in_url", "POST", f"default-graph-uri={G1}".encode(), DIRECT, SELECT.encode(),
         query=SELECT, default=(G1,)),
    Case("relative_graph_iri", query_string=q(SELECT) + b"&default-graph-uri=graph/1", status=400),
    Case("graph_iri_with_space", query_string=q(SELECT) + b"&named-graph-uri=http://a/b%20c", status=400),
    # --- exactly one query
    Case("query_twice", query_string=q(SELECT) + b"&" + q("ASK {}"), status=400),
    Case("query_in_url_and_body", "POST", q(SELECT), FORM, q(SELECT), status=400),
    Case("query_in_url_and_direct_body", "POST", q(SELECT), DIRECT, SELECT.encode(), status=400),
    Case("query_twice_in_body", "POST", content_type=FORM, body=q(SELECT) + b"&" + q(SELECT), status=400),
    Case("post_without_query", "POST", content_type=FORM, body=b"default-graph-uri=http://a/", status=400),
    Case("empty_query", query_string=b"query=", status=400),
    Case("blank_query", "POST", content_type=DIRECT, body=b"  \n ", status=400),
    # --- no query: the service description, or the editor for a browser
    Case("no_query_machine", accept="text/turtle", description=True, format="ttl"),
    Case("no_query_any", accept="*/*", description=True, format="ttl"),
    Case("no_query_no_accept", description=True, format="ttl"),
    Case("no_query_browser", accept=BROWSER, description=True, format="html"),
    Case("no_query_jsonld", accept="application/ld+json", description=True, format="jsonld"),
    Case("no_query_format_param", query_string=b"format=nt", accept=BROWSER, description=True, format="nt"),
    Case("no_query_unservable", accept="application/sparql-results+json", status=406),
    # --- wrong requests
    Case("put", "PUT", status=405),
    Case("delete", "DELETE", q(SELECT), status=405),
    Case("post_no_content_type", "POST", body=SELECT.encode(), status=415),
    Case("post_text_plain", "POST", content_type="text/plain", body=SELECT.encode(), status=415),
    Case("post_multipart", "POST", content_type="multipart/form-data; boundary=x", body=b"--x--", status=415),
    Case("post_latin1", "POST", content_type=f"{DIRECT}; charset=ISO-8859-1", body=SELECT.encode(), status=415),
    Case("update_content_type", "POST", content_type="application/sparql-update", body=b"DROP ALL", status=403),
    Case("update_parameter", "POST", content_type=FORM, body=b"update=DROP%20ALL", status=403),
    Case("update_parameter_in_url", query_string=b"update=CLEAR%20DEFAULT", status=403),
    Case("using_graph_uri", "POST", content_type=FORM, body=b"update=x&using-graph-uri=http://a/", status=403),
    Case("body_too_large", "POST", content_type=DIRECT, body=b"#" * 2000 + SELECT.encode(), status=413),
    Case("url_too_long", query_string=q("#" * 2000 + SELECT), status=414),
    Case("non_utf8_body", "POST", content_type=DIRECT, body=b"ASK { ?s ?p '\xe9' }", status=400),
    Case("non_utf8_form_body", "POST", content_type=FORM, body=b"query=ASK%20%7B%7D%E9", status=400),
    Case("non_utf8_url", query_string=b"query=ASK%20%7B%20%22%FF%22%20%7D", status=400),
    Case("raw_non_utf8_byte_in_url", query_string=b"query=ASK {\xff}", status=400),
    # --- content negotiation after the form is known (cases named as Oxigraph's tests)
    Case("accept_star", query_string=q(SELECT), accept="*/*", format="srj"),
    Case("accept_substar", query_string=q(SELECT), accept="text/*", format="csv"),
    Case("wildcard_exclusion", query_string=q(SELECT), accept="text/*, text/csv;q=0", format="tsv"),
    Case("parameter_specificity", query_string=q(SELECT), accept="text/csv;q=0.1, text/csv;charset=utf-8;q=0.9, */*;q=0.2", format="csv"),
    Case("explicit_priority", query_string=q(SELECT), accept="text/csv;q=0.5, application/sparql-results+xml", format="srx"),
    Case("same_q_first_listed", query_string=q(SELECT), accept="text/tab-separated-values, text/csv", format="tsv"),
    Case("json_alias", query_string=q(SELECT), accept="application/json", format="srj"),
    Case("bad", query_string=q(SELECT), accept="text/turtle", status=406),
    Case("bad_for_construct", query_string=q(CONSTRUCT), accept="application/sparql-results+json", status=406),
    Case("construct_default", query_string=q(CONSTRUCT), form=QueryForm.CONSTRUCT, format="ttl"),
    Case("construct_ntriples", query_string=q(CONSTRUCT), accept="application/n-triples", format="nt"),
    Case("describe_rdfxml", query_string=q("DESCRIBE <http://a/>"), accept="application/rdf+xml", form=QueryForm.DESCRIBE, format="rdf"),
    Case("describe_jsonld", query_string=q("DESCRIBE <http://a/>"), accept="application/ld+json", format="jsonld"),
    Case("ask_xml", query_string=q("ASK {}"), accept="application/sparql-results+xml", form=QueryForm.ASK, format="srx"),
    Case("browser_gets_the_editor", query_string=q(SELECT), accept=BROWSER, format="html"),
    Case("browser_post_gets_data", "POST", content_type=FORM, body=q(SELECT), accept=BROWSER, format="srx"),
    # --- format= for browsers: a key or a media type; unknown values left to Accept
    Case("format_key", query_string=q(SELECT) + b"&format=csv", accept=BROWSER, format="csv"),
    Case("format_media_type", query_string=q(SELECT) + b"&format=text%2Ftab-separated-values", format="tsv"),
    Case("format_unknown_ignored", query_string=q(SELECT) + b"&format=json&output=json", accept="application/sparql-results+xml", format="srx"),
    Case("format_sparqlwrapper_tsv", query_string=q(SELECT) + b"&format=tsv&format=text/tab-separated-values", format="tsv"),
    Case("format_wrong_kind", query_string=q(SELECT) + b"&format=ttl", status=406),
    Case("format_construct", query_string=q(CONSTRUCT) + b"&format=jsonld", accept=BROWSER, format="jsonld"),
    # --- the form is read after the prologue, comments and case
    Case("form_after_prologue", query_string=q("BASE <http://a/>\nPREFIX x: <y#>\n# c\nconstruct WHERE { ?s ?p ?o }"),
         form=QueryForm.CONSTRUCT, format="ttl"),
    Case("unknown_form_gets_results_format", query_string=q("SELEKT * {}"), form=None, format="srj"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_request(case: Case) -> None:
    def parse() -> QueryRequest | DescriptionRequest:
        return parse_request(
            case.method, case.query_string, case.content_type, case.body, case.accept, 1000
        )

    if case.status is not None:
        with pytest.raises(ProtocolError) as raised:
            parse()
        assert raised.value.status == case.status, raised.value.message
        assert raised.value.message
        return
    parsed = parse()
    if case.description:
        assert isinstance(parsed, DescriptionRequest)
    else:
        assert isinstance(parsed, QueryRequest)
        assert parsed.query == case.query or case.query is None
        assert parsed.query.strip()
        if case.form is not None or case.id.startswith("unknown_form"):
            assert parsed.form == case.form
        assert parsed.dataset.default_graphs == case.default
        assert parsed.dataset.named_graphs == case.named
    if case.format is not None:
        assert parsed.result_format.key == case.format


def test_errors_say_what_to_do() -> None:
    with pytest.raises(ProtocolError) as raised:
        parse_request("GET", q(SELECT), None, b"", "text/turtle")
    message = raised.value.message
    assert "application/sparql-results+json" in message and "format=srj|srx|csv|tsv" in message
    assert raised.value.query == SELECT  # so the log can name the query

    with pytest.raises(ProtocolError) as raised:
        parse_request("PATCH", b"", None, b"", None)
    assert ("Allow", "GET, HEAD, POST, OPTIONS") in raised.value.headers

    with pytest.raises(ProtocolError) as raised:
        parse_request("POST", b"", "application/json", b"{}", None)
    assert "application/sparql-query" in raised.value.message
    assert "sparql11-protocol/#query-operation" in raised.value.message


def test_a_body_at_the_limit_is_accepted() -> None:
    body = SELECT.encode().ljust(1000)
    parsed = parse_request("POST", b"", DIRECT, body, None, 1000)
    assert isinstance(parsed, QueryRequest)
    with pytest.raises(ProtocolError):
        parse_request("POST", b"", DIRECT, body + b" ", None, 1000)
