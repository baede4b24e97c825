"""The one registry of formats, and content negotiation over it.

Each :class:`Format` is a frozen record: its key is the file extension and the
``?format=`` value. Serializers, conneg, ``Link`` headers, download links, the
service description and the CLI all read this table.

>>> by_key("ttl").media_type
'text/turtle'
>>> by_media_type("application/x-turtle").key
'ttl'
>>> negotiate("text/*;q=0.5, application/ld+json", [by_key("ttl"), by_key("jsonld")]).key
'jsonld'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache


class Kind(Enum):
    """What a format can carry."""

    GRAPH = "graph"  # a set of triples (CONSTRUCT results, entity documents)
    DATASET = "dataset"  # quads: named graphs kept
    RESULTS = "results"  # SELECT / ASK results
    PAGE = "page"  # a page for people


@dataclass(frozen=True)
class Format:
    """A serialization format: key (= file extension), media type and what it can carry."""

    key: str
    media_type: str
    name: str
    kinds: frozenset[Kind]
    iri: str | None = None
    aliases: tuple[str, ...] = ()
    textual: bool = True

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type, *self.aliases)

    @property
    def content_type(self) -> str:
        """The Content-Type header value, with a charset for text formats."""
        return f"{self.media_type}; charset=utf-8" if self.textual else self.media_type

    def carries(self, kind: Kind) -> bool:
        return kind in self.kinds


_W3 = "http://www.w3.org/ns/formats/"
_G, _D, _R, _P = Kind.GRAPH, Kind.DATASET, Kind.RESULTS, Kind.PAGE

FORMATS: tuple[Format, ...] = (
    Format("html", "text/html", "HTML", frozenset({_P}), aliases=("application/xhtml+xml",)),
    Format("ttl", "text/turtle", "Turtle", frozenset({_G}), _W3 + "Turtle", ("application/x-turtle",)),
    Format("jsonld", "application/ld+json", "JSON-LD", frozenset({_G, _D}), _W3 + "JSON-LD"),
    Format("rdf", "application/rdf+xml", "RDF/XML", frozenset({_G}), _W3 + "RDF_XML"),
    Format("nt", "application/n-triples", "N-Triples", frozenset({_G}), _W3 + "N-Triples"),
    Format("trig", "application/trig", "TriG", frozenset({_D}), _W3 + "TriG"),
    Format("nq", "application/n-quads", "N-Quads", frozenset({_D}), _W3 + "N-Quads"),
    Format("srj", "application/sparql-results+json", "SPARQL Results JSON", frozenset({_R}),
           _W3 + "SPARQL_Results_JSON", ("application/json",)),
    Format("srx", "application/sparql-results+xml", "SPARQL Results XML", frozenset({_R}),
           _W3 + "SPARQL_Results_XML", ("application/xml",)),
    Format("csv", "text/csv", "SPARQL Results CSV", frozenset({_R}), _W3 + "SPARQL_Results_CSV"),
    Format("tsv", "text/tab-separated-values", "SPARQL Results TSV", frozenset({_R}),
           _W3 + "SPARQL_Results_TSV"),
)  # fmt: skip

_BY_KEY = {f.key: f for f in FORMATS}
_BY_MEDIA_TYPE = {mt: f for f in FORMATS for mt in f.media_types}


def by_key(key: str) -> Format:
    """The format with this key (file extension); KeyError if there is none."""
    return _BY_KEY[key]


def by_media_type(media_type: str) -> Format | None:
    """The format for a media type (parameters ignored), or None."""
    return _BY_MEDIA_TYPE.get(media_type.split(";", 1)[0].strip().lower())


def formats_for(kind: Kind) -> tuple[Format, ...]:
    """All formats that carry ``kind``, in registry order (the first is the default)."""
    return tuple(f for f in FORMATS if f.carries(kind))


@dataclass(frozen=True)
class _Range:
    """One media range of an Accept header (RFC 9110 section 12.5.1)."""

    type: str
    subtype: str
    params: frozenset[tuple[str, str]]
    q: float
    position: int

    def specificity(self, media_type: str, exact_only: bool = False) -> int | None:
        """How precisely this range matches ``media_type``: None if it does not.

        We serve text as UTF-8, so ``charset=utf-8`` makes a range more specific and any
        other charset does not match. ``exact_only`` lets aliases match no wildcard.
        """
        main, _, sub = media_type.partition("/")
        charset = dict(self.params).get("charset")
        if charset is not None and charset.lower() not in ("utf-8", "utf8"):
            return None
        if self.type == "*":
            return None if exact_only else 0
        if self.type != main:
            return None
        if self.subtype == "*":
            return None if exact_only else 1
        if self.subtype != sub:
            return None
        return 2 + len(self.params)


# The JSON-LD profile names a form of the same document; it neither excludes nor ranks.
_IGNORED_PARAMS = frozenset({"profile"})


def parse_accept(header: str) -> list[_Range]:
    """Parse an Accept header; malformed ranges are skipped, as RFC 9110 lets a server do."""
    ranges: list[_Range] = []
    for position, item in enumerate(header.split(",")):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        if media == "*":  # some clients send a bare "*"
            media = "*/*"
        main, slash, sub = media.partition("/")
        if not slash or not main or not sub or (main == "*" and sub != "*"):
            continue
        q = 1.0
        params: set[tuple[str, str]] = set()
        for param in parts[1:]:
            name, _, value = param.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
            elif name and name not in _IGNORED_PARAMS:
                params.add((name, value))
        ranges.append(_Range(main, sub, frozenset(params), q, position))
    return ranges


def quality(ranges: Sequence[_Range], media_type: str, exact_only: bool = False) -> float:
    """The q-value the client gives ``media_type``: the most specific matching range decides."""
    best: tuple[int, _Range] | None = None
    for r in ranges:
        spec = r.specificity(media_type, exact_only)
        if spec is not None and (best is None or spec > best[0]):
            best = (spec, r)
    return best[1].q if best else 0.0


def negotiate(accept: str | None, candidates: Iterable[Format]) -> Format | None:
    """The best of ``candidates`` for an Accept header, or None (answer 406).

    A missing or empty header accepts anything, so the first candidate wins. Among
    candidates with equal q, the one the client listed first wins; then registry order.
    Parameters such as ``charset`` and the JSON-LD ``profile`` do not exclude a match.
    Answers are remembered per header and candidates: clients send few distinct headers.
    """
    return _negotiate(accept, tuple(candidates))


@lru_cache(maxsize=1024)
def _negotiate(accept: str | None, candidates: tuple[Format, ...]) -> Format | None:
    if not accept or not accept.strip():
        return candidates[0] if candidates else None
    ranges = parse_accept(accept)
    if not ranges:
        return candidates[0] if candidates else None
    scored: list[tuple[float, int, int, Format]] = []
    for order, fmt in enumerate(candidates):
        best_q, best_pos = 0.0, len(ranges)
        for media_type in fmt.media_types:
            exact_only = media_type != fmt.media_type  # an alias is chosen only by name
            q = quality(ranges, media_type, exact_only)
            pos = min(
                (
                    r.position
                    for r in ranges
                    if r.specificity(media_type, exact_only) is not None and r.q == q
                ),
                default=len(ranges),
            )
            if (q, -pos) > (best_q, -best_pos):
                best_q, best_pos = q, pos
        if best_q > 0:
            scored.append((best_q, -best_pos, -order, fmt))
    return max(scored, key=lambda s: s[:3])[3] if scored else None
