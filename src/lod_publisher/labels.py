"""Choosing a label for a resource, and formatting literal values, for people.

Labels follow an ordered list of properties (``queries.LABEL_PROPERTIES``) and the
reader's languages (``Accept-Language``), falling back to English, then any
language, then untagged, then the IRI's last segment.

>>> from rdflib import Literal, XSD
>>> format_value(Literal("2025-05-09", datatype=XSD.date))
'9 May 2025'
>>> format_value(Literal("2025-03", datatype=XSD.gYearMonth))
'March 2025'
>>> format_value(Literal("1395", datatype=XSD.integer))
'1,395'
>>> normalise_for_search("Batyrlarğa TAĞZYM")
'batyrlarga tagzym'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date
from urllib.parse import unquote

from rdflib import XSD, Graph, Literal, URIRef
from rdflib.term import Node

from lod_publisher.queries import LABEL_PROPERTIES

_LABEL_PROPERTIES = tuple(URIRef(p) for p in LABEL_PROPERTIES)
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def language_preferences(header: str | None) -> tuple[str, ...]:
    """Languages from an Accept-Language header by q, then English as the fallback.

    >>> language_preferences("kk, ru;q=0.8, en;q=0.5")
    ('kk', 'ru', 'en')
    >>> language_preferences(None)
    ('en',)
    """
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip().lower()
        if not tag or tag == "*":
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q > 0:
            ranked.append((-q, position, tag))
    languages = [tag for _, _, tag in sorted(ranked)]
    if "en" not in languages:
        languages.append("en")
    return tuple(dict.fromkeys(languages))


def _language_rank(literal: Literal, languages: Sequence[str]) -> int:
    tag = (literal.language or "").lower()
    for rank, wanted in enumerate(languages):
        if tag == wanted or tag.startswith(wanted + "-"):
            return rank
    return len(languages) + (0 if tag else 1)


def best_label(graph: Graph, node: Node, languages: Sequence[str]) -> Literal | None:
    """The preferred label of ``node`` in ``graph``: property order first, then language."""
    for prop in _LABEL_PROPERTIES:
        candidates = [o for o in graph.objects(node, prop) if isinstance(o, Literal)]
        if candidates:
            return min(candidates, key=lambda lit: (_language_rank(lit, languages), str(lit)))
    return None


def fallback_name(iri: str) -> str:
    """A readable stand-in when a resource has no label: the IRI's last segment."""
    tail = iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return unquote(tail) or iri


def label_text(graph: Graph, node: Node, languages: Sequence[str]) -> str:
    label = best_label(graph, node, languages)
    return str(label) if label is not None else fallback_name(str(node))


def format_value(literal: Literal) -> str:
    """A literal as people read it: dates spelled out, integers grouped; else its text."""
    datatype = literal.datatype
    text = str(literal)
    try:
        if datatype == XSD.date:
            day = date.fromisoformat(text[:10])
            return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
        if datatype == XSD.gYearMonth:
            year, month = text[:7].split("-")
            return f"{_MONTHS[int(month) - 1]} {int(year)}"
        if datatype == XSD.gYear:
            return str(int(text[:4]))
        if datatype in (XSD.integer, XSD.nonNegativeInteger, XSD.int, XSD.long):
            return f"{int(text):,}"
        if datatype == XSD.decimal and "." in text:
            whole, fraction = text.split(".", 1)
            return f"{int(whole):,}.{fraction}"
    except (ValueError, IndexError):
        return text  # an ill-typed value is shown as written
    return text


def normalise_for_search(text: str) -> str:
    """Case- and diacritic-insensitive form: casefolded, marks removed, spaces collapsed.

    Works across scripts: Latin ğ and ǵ become g; Cyrillic is casefolded; Kazakh
    letters without a decomposition (ғ, қ, ұ) are kept as they are.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())
