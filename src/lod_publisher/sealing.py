"""Keep every query inside: refuse SPARQL Update, and SERVICE calls to any endpoint not allowed.

The engine would open an HTTP connection for each ``SERVICE`` clause (SPARQL 1.1 Federated
Query, https://www.w3.org/TR/sparql11-federated-query/#defn_service), so such clauses are
found in the query text and refused before the query runs, unless their endpoint is in
the configured allowlist (empty by default).

The search is lexical, so it is built to err towards refusing:

- Strings, comments and IRIs are skipped (a ``SERVICE`` in a label is no call). Where the
  grammar is ambiguous (``<`` starts an IRI or is "less than"; ``\\'`` in a prefixed name)
  both readings are scanned.
- The engine's parser matches keywords as prefixes (``SERVICEex:x { }`` and
  ``service:x { }`` both call a service), so any word or prefixed name that starts with
  ``SERVICE`` and is followed, as the SERVICE production requires, by a term and ``{``
  counts as a call.
- ``\\u`` escapes are also expanded and the result scanned, as SPARQL 1.1 Query
  section 19.2 allows.

>>> service_calls("SELECT * { SERVICE <http://example.org/sparql> { ?s ?p ?o } }")[0].target
'http://example.org/sparql'
>>> service_calls('SELECT * { ?s rdfs:label "SERVICE <http://x/> { }" }')
()
>>> check("INSERT DATA { <a:a> <a:b> <a:c> }", frozenset())
Traceback (most recent call last):
...
lod_publisher.sealing.QueryRefusedError: this endpoint is read-only: SPARQL Update (INSERT) is not accepted. See https://www.w3.org/TR/sparql11-protocol/#update-operation
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lod_publisher.errors import QueryError

SERVICE_SPEC = "https://www.w3.org/TR/sparql11-federated-query/#defn_service"
UPDATE_SPEC = "https://www.w3.org/TR/sparql11-protocol/#update-operation"

# Terminals of the SPARQL 1.1 grammar (https://www.w3.org/TR/sparql11-query/#grammar).
_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + r"\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_PN_PREFIX = f"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = (
    f"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
)
_PNAME = f"(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?"
_VAR = f"[?$][{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*"
_IRIREF = r'<[^<>"{}|^`\\\x00-\x20]*>'
# White space and comments, as the parser skips them. Possessive (Python 3.11) throughout,
# so that no crafted query makes a match backtrack for long.
_SKIP = r"(?:\s|#[^\n\r]*+)*+"

_IRI = re.compile(_IRIREF)
_PNAME_TOKEN = re.compile(_PNAME)
_PNAME_FULL = re.compile(f"(?P<prefix>(?:{_PN_PREFIX})?):(?P<local>(?:{_PN_LOCAL})?)")
_VAR_FULL = re.compile(_VAR)
_STRING = re.compile(
    r"'''(?:(?:'|'')?+(?:[^'\\]|\\.))*+'''"
    r'|"""(?:(?:"|"")?+(?:[^"\\]|\\.))*+"""'
    r"|'(?:[^'\\\n\r]|\\.)*+'"
    r'|"(?:[^"\\\n\r]|\\.)*+"',
    re.DOTALL,
)
_COMMENT = re.compile(r"#[^\n\r]*")
_OTHER = re.compile(
    r"\s+"  # white space
    rf"|[?$][{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*"  # variable
    rf"|_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"  # blank node label
    r"|@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*"  # language tag
    r"|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"  # number
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What the engine accepts after a keyword that starts with SERVICE (it matches keywords
# as prefixes): SILENT or not, a term (matched loosely, in linear time), then the group.
_LOOSE_TERM = rf"{_IRIREF}|(?:[^\s{{<>#'\"\\]|\\.)++"
_SERVICE_CALL = re.compile(
    rf"(?i:service){_SKIP}(?:(?i:silent){_SKIP})?(?P<target>{_LOOSE_TERM}){_SKIP}\{{",
    re.DOTALL,
)
_SILENT = re.compile(rf"(?i:silent){_SKIP}")
_PROLOGUE_ITEM = re.compile(
    rf"{_SKIP}(?:(?i:base){_SKIP}(?P<base>{_IRIREF})"
    rf"|(?i:prefix){_SKIP}(?P<prefix>(?:{_PN_PREFIX})?):{_SKIP}(?P<namespace>{_IRIREF}))"
)
_UPDATE_KEYWORDS = (
    "INSERT",
    "DELETE",
    "LOAD",
    "CLEAR",
    "CREATE",
    "DROP",
    "COPY",
    "MOVE",
    "ADD",
    "WITH",
)
_UPDATE_START = re.compile(rf"{_SKIP}(?P<keyword>{'|'.join(_UPDATE_KEYWORDS)})", re.IGNORECASE)
_MAX_ESCAPE_FORKS = 64  # each may rescan the rest of the text
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_UNESCAPE_LOCAL = re.compile(r"\\(.)")


class QueryRefusedError(QueryError):
    """The query may not run here; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ServiceCall:
    """One SERVICE clause: where it is, its target as written, and the IRI it names.

    ``target`` is None when the endpoint is a variable or cannot be resolved to an
    absolute IRI without guessing (relative IRIs, undeclared prefixes).
    """

    offset: int
    line: int
    column: int
    written: str
    target: str | None


def service_calls(query: str) -> tuple[ServiceCall, ...]:
    """Every SERVICE clause the engine could see in ``query``, in order of position."""
    calls: dict[tuple[int, str], ServiceCall] = {}
    texts = [query]
    expanded = _expand_codepoints(query)
    if expanded != query:
        texts.append(expanded)
    for text in texts:
        if "service" not in text.lower():
            continue
        prefixes, _ = _prologue(text)
        for start in _service_candidates(text):
            match = _SERVICE_CALL.match(text, start)
            if match is None:
                continue
            written = match.group("target")
            line = text.count("\n", 0, start) + 1
            column = start - (text.rfind("\n", 0, start) + 1) + 1
            for reading in _readings(written):
                key = (start, reading)
                if key not in calls:
                    calls[key] = ServiceCall(
                        start, line, column, reading, _resolve(reading, prefixes)
                    )
    return tuple(calls[k] for k in sorted(calls))


def update_keyword(query: str) -> str | None:
    """The update operation ``query`` starts with (``INSERT``, ``LOAD``, ...), or None."""
    _, end = _prologue(query)
    match = _UPDATE_START.match(query, end)
    return match.group("keyword").upper() if match else None


def check(query: str, allowlist: frozenset[str]) -> None:
    """Raise :class:`QueryRefusedError` if ``query`` is an update or calls a service not allowed."""
    keyword = update_keyword(query)
    if keyword is not None:
        raise QueryRefusedError(
            f"this endpoint is read-only: SPARQL Update ({keyword}) is not accepted. "
            f"See {UPDATE_SPEC}",
            403,
        )
    for call in service_calls(query):
        if call.target is not None and call.target in allowlist:
            continue
        where = f"line {call.line}, column {call.column}"
        if call.target is None:
            reason = (
                f"SERVICE {call.written} at {where} does not name an absolute endpoint IRI; "
                "only SERVICE <iri> with an allowed IRI can run"
            )
        else:
            reason = f"SERVICE <{call.target}> at {where} is not allowed"
        allowed = (
            "allowed endpoints: " + ", ".join(f"<{iri}>" for iri in sorted(allowlist))
            if allowlist
            else "this endpoint calls no other endpoint"
        )
        raise QueryRefusedError(f"{reason} ({allowed}). See {SERVICE_SPEC}", 400)


def _service_candidates(text: str) -> Iterator[int]:
    """Start offsets of words and prefixed names beginning with SERVICE, in code."""
    for start, kind in _code_tokens(text):
        if kind == "name" and text[start : start + 7].lower() == "service":
            yield start


def _code_tokens(text: str) -> Iterator[tuple[int, str]]:
    """(offset, kind) of every token outside strings and comments, in every reading.

    Where the grammar is ambiguous the scan forks; each offset is scanned once, so the
    work stays linear in the length of the text.
    """
    pending = [0]
    seen: set[int] = set()
    escape_forks = 0
    while pending:
        position = pending.pop()
        while position < len(text) and position not in seen:
            seen.add(position)
            char = text[position]
            if char in "'\"#":
                if position > 0 and text[position - 1] == "\\":
                    # An escape in a prefixed name (ex:a\'b)? Read it as code too.
                    escape_forks += 1
                    if escape_forks > _MAX_ESCAPE_FORKS:
                        raise QueryRefusedError(
                            "too many escaped quotes outside strings to check this query "
                            f"for SERVICE clauses safely; it was not run. See {SERVICE_SPEC}",
                            400,
                        )
                    pending.append(position + 1)
                match = (_COMMENT if char == "#" else _STRING).match(text, position)
                if match is None:  # an unterminated string: the parser rejects this reading
                    break
                position = match.end()
                continue
            if char == "<" and (match := _IRI.match(text, position)):
                if any(c in match.group() for c in "'#"):  # or "<" is less-than: read both
                    pending.append(position + 1)
                yield position, "iri"
                position = match.end()
                continue
            if match := _PNAME_TOKEN.match(text, position):
                yield position, "name"
                position = match.end()
            elif match := _OTHER.match(text, position):
                position = match.end()
            elif match := _WORD.match(text, position):
                yield position, "name"
                position = match.end()
            else:
                position += 1


def _readings(written: str) -> tuple[str, ...]:
    """The endpoint a loosely matched target may denote: as is, or after a SILENT."""
    readings = [written]
    if silent := _SILENT.match(written):
        rest = written[silent.end() :]
        if rest:
            readings.append(rest)
    return tuple(readings)


def _prologue(text: str) -> tuple[dict[str, str], int]:
    """The prefixes declared before the query form, and the offset where the form starts."""
    prefixes: dict[str, str] = {}
    position = 0
    while match := _PROLOGUE_ITEM.match(text, position):
        if match.group("prefix") is not None:
            prefixes[match.group("prefix")] = match.group("namespace")[1:-1]
        position = match.end()
    return prefixes, position


def _resolve(written: str, prefixes: dict[str, str]) -> str | None:
    """The absolute IRI a SERVICE target names, or None (variable, relative, unknown)."""
    iri: str | None = None
    if _IRI.fullmatch(written):
        iri = written[1:-1]
    elif match := _PNAME_FULL.fullmatch(written):
        namespace = prefixes.get(match.group("prefix"))
        if namespace is not None:
            iri = namespace + _UNESCAPE_LOCAL.sub(r"\1", match.group("local"))
    return iri if iri is not None and _SCHEME.match(iri) else None


def _expand_codepoints(text: str) -> str:
    r"""``text`` with ``\uXXXX`` and ``\UXXXXXXXX`` replaced by their characters."""

    def expand(match: re.Match[str]) -> str:
        try:
            return chr(int(match.group(1) or match.group(2), 16))
        except (ValueError, OverflowError):
            return match.group(0)

    return _CODEPOINT.sub(expand, text)
