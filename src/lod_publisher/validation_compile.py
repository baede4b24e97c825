"""SHACL Core shapes compiled to SPARQL that finds the focus nodes which may violate them.

Each node shape with targets (https://www.w3.org/TR/shacl/#targets) becomes one query on the
store's merged default graph: its targets, filtered by a boolean expression that is true for
every focus node violating the shape (a superset: where in doubt, true). pySHACL then
validates only those candidates (validation_scale.py), so the shapes stay the single source
of truth and pySHACL still writes every result, message and severity; the queries only
decide which focus nodes cannot have a result. On conforming data that is almost none.

Supported (https://www.w3.org/TR/shacl/#core-components): sh:class, sh:datatype,
sh:nodeKind, sh:minCount 1 and any sh:maxCount, sh:hasValue, sh:in, sh:min/maxInclusive,
sh:min/maxExclusive, sh:min/maxLength, sh:pattern, sh:languageIn, sh:uniqueLang, sh:node,
sh:property, sh:or, sh:and, sh:not, sh:qualifiedValueShape with sh:qualifiedMinCount 1,
on IRI and inverse paths. Anything else makes the expression "true" where it occurs
(every target of that shape is validated by pySHACL), so an unknown construct costs time,
never a missed result. ``sh:sparql`` is left to validation_scale.py's own candidates.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import cast

import pyoxigraph as ox
from rdflib import RDF, RDFS, XSD, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.term import Node, XSDToPython

from lod_publisher.store.embedded import to_rdflib
from lod_publisher.uris import UriPolicy, sparql_iri
from lod_publisher.validation import SH

TRUE = "true"
FALSE = "false"

# Parameters that only describe a shape, or that this module handles elsewhere.
_IGNORED = {
    RDF.type, RDFS.label, RDFS.comment, SH.name, SH.description, SH.message, SH.severity,
    SH.order, SH.group, SH.defaultValue, SH.deactivated, SH.sparql, SH.path,
    SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf,
    SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.qualifiedValueShapesDisjoint, SH.flags,
}  # fmt: skip
# Parameters of a property shape about all its values together (not each value).
_COUNTED = {SH.minCount, SH.maxCount, SH.hasValue, SH.uniqueLang, SH.qualifiedValueShape}
_NODE_KINDS: dict[Node, str] = {
    SH.IRI: "!isIRI({v})",
    SH.BlankNode: "!isBlank({v})",
    SH.Literal: "!isLiteral({v})",
    SH.BlankNodeOrIRI: "isLiteral({v})",
    SH.BlankNodeOrLiteral: "isIRI({v})",
    SH.IRIOrLiteral: "isBlank({v})",
}
_COMPARISONS: dict[Node, str] = {
    SH.minInclusive: ">=",
    SH.maxInclusive: "<=",
    SH.minExclusive: ">",
    SH.maxExclusive: "<",
}
_LENGTHS: dict[Node, str] = {SH.minLength: ">=", SH.maxLength: "<="}
# pySHACL's DatatypeConstraintComponent: the Python value rdflib gives a well-typed literal.
_PYTHON_TYPES: dict[URIRef, type | tuple[type, ...]] = {
    XSD.string: (str, bytes),
    RDF.langString: (str, bytes),
    XSD.integer: int,
    XSD.float: float,
    XSD.decimal: Decimal,
    XSD.boolean: bool,
    XSD.date: date,
    XSD.time: time,
    XSD.dateTime: datetime,
}


# Lexical forms rdflib surely parses to the Python type pySHACL expects (tests check
# samples): a literal of the datatype that does not match is a candidate, and pySHACL
# decides. Datatypes rdflib parses that are not listed here have their ill-typed literals
# found by a scan (:func:`_bad_literals`); rdflib does not parse the rest (xsd:gYear, ...),
# so pySHACL accepts any lexical form of them.
_DAY = "(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
_DATE = f"[1-9][0-9]{{3}}-{_DAY}"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6})?Z?"
LEXICAL: dict[URIRef, str] = {
    XSD.integer: "^[+-]?[0-9]+$",
    XSD.decimal: "^[+-]?[0-9]+(?:\\.[0-9]+)?$",
    XSD.boolean: "^(?:true|false|1|0)$",
    XSD.date: f"^{_DATE}$",
    XSD.dateTime: f"^{_DATE}T{_TIME}$",
    XSD.time: f"^{_TIME}$",
}
_PARSED_BY_RDFLIB = {URIRef(d) for d, parse in XSDToPython.items() if d and parse is not None}


@dataclass(frozen=True)
class Expr:
    """A SPARQL boolean expression true for a node that violates a shape.

    ``exact``: also false for every node that conforms (so it may be negated, for sh:not
    and qualified counts); otherwise it is only known to be a superset.
    """

    text: str
    exact: bool


def _any(parts: list[Expr]) -> Expr:
    if not parts:
        return Expr(FALSE, True)
    if any(p.text == TRUE for p in parts):
        return Expr(TRUE, all(p.exact for p in parts))
    return Expr("(" + " || ".join(p.text for p in parts) + ")", all(p.exact for p in parts))


def _all(parts: list[Expr]) -> Expr:
    if not parts:
        return Expr(TRUE, True)
    return Expr("(" + " && ".join(p.text for p in parts) + ")", all(p.exact for p in parts))


def _not(expr: Expr) -> Expr:
    return Expr(f"!({expr.text})", True) if expr.exact else Expr(TRUE, False)


def _term(node: Node) -> str:
    if isinstance(node, URIRef):
        return sparql_iri(str(node))
    if isinstance(node, Literal):
        return node.n3()
    raise ValueError(f"cannot write {node!r} in a query")


class ShapeCompiler:
    """Compiles the shapes graph; ``classes`` maps a class to itself and its subclasses."""

    def __init__(
        self, shapes: Graph, classes: dict[str, set[str]], bad_literals: dict[str, list[str]]
    ) -> None:
        self.shapes = shapes
        self.classes = classes
        self.bad_literals = bad_literals  # datatype -> ill-typed literals (as SPARQL terms)
        self._names: Iterator[int] = itertools.count()
        self.unsupported: set[str] = set()

    def _var(self) -> str:
        return f"?v{next(self._names)}"

    def _not_instance_of(self, node: str, cls: Node) -> str:
        members = sorted(self.classes.get(str(cls), {str(cls)}))
        types = ", ".join(sparql_iri(c) for c in members)
        t = self._var()
        return f"NOT EXISTS {{ {node} {sparql_iri(str(RDF.type))} {t} FILTER({t} IN ({types})) }}"

    def _path(self, path: Node, subject: str, value: str) -> str | None:
        if isinstance(path, URIRef):
            return f"{subject} {sparql_iri(str(path))} {value} ."
        inverse = self.shapes.value(path, SH.inversePath)
        if isinstance(inverse, URIRef) and len(set(self.shapes.predicate_objects(path))) == 1:
            return f"{value} {sparql_iri(str(inverse))} {subject} ."
        return None

    def violates(self, shape: Node, node: str, depth: int = 0) -> Expr:
        """True where ``node`` (a SPARQL variable or term) violates ``shape``."""
        if depth > 8:  # recursive shapes: give up, pySHACL decides
            self.unsupported.add(f"deep nesting at {shape}")
            return Expr(TRUE, False)
        path = self.shapes.value(shape, SH.path)
        if path is None:
            return _any(
                [*self._value_constraints(shape, node, depth), *self._shared(shape, node, depth)]
            )
        return _any(self._property(shape, path, node, depth))

    def parts(self, shape: Node, node: str) -> list[Expr]:
        """``shape``'s violation as a disjunction, flattened through its property shapes."""
        path = self.shapes.value(shape, SH.path)
        if path is not None:
            return self._property(shape, path, node, 0)
        found = self._value_constraints(shape, node, 0)
        for prop in self.shapes.objects(shape, SH.property):
            inner = self.shapes.value(prop, SH.path)
            if inner is None:
                found.append(self.violates(prop, node, 1))
            else:
                found += self._property(prop, inner, node, 1)
        return found

    def _shared(self, shape: Node, node: str, depth: int) -> list[Expr]:
        """sh:property of a node shape (on the node itself)."""
        return [
            self.violates(prop, node, depth + 1) for prop in self.shapes.objects(shape, SH.property)
        ]

    def _property(self, shape: Node, path: Node, node: str, depth: int) -> list[Expr]:
        value = self._var()
        pattern = self._path(path, node, value)
        if pattern is None:
            self.unsupported.add(f"sh:path {path}")
            return [Expr(TRUE, False)]
        parts: list[Expr] = []
        per_value = _any(
            [
                *self._value_constraints(shape, value, depth),
                *(
                    self.violates(nested, value, depth + 1)
                    for nested in self.shapes.objects(shape, SH.property)
                ),
            ]
        )
        if per_value.text != FALSE:
            parts.append(
                Expr(
                    f"EXISTS {{ {pattern} FILTER(COALESCE({per_value.text}, true)) }}",
                    per_value.exact,
                )
            )
        for count in self.shapes.objects(shape, SH.minCount):
            parts.append(self._min_count(pattern, int(cast(Literal, count).toPython())))
        for count in self.shapes.objects(shape, SH.maxCount):
            parts.append(self._max_count(path, node, int(cast(Literal, count).toPython())))
        for wanted in self.shapes.objects(shape, SH.hasValue):
            found = self._path(path, node, _term(wanted))
            parts.append(Expr(f"NOT EXISTS {{ {found} }}", True))
        for qualified in self.shapes.objects(shape, SH.qualifiedValueShape):
            parts.append(self._qualified(shape, qualified, pattern, value, depth))
        if self.shapes.value(shape, SH.uniqueLang) == Literal(True):
            other = self._var()
            twin = self._path(path, node, other)
            parts.append(
                Expr(
                    f"EXISTS {{ {pattern} {twin} FILTER(!sameTerm({value}, {other}) && "
                    f'COALESCE(LCASE(LANG({value})) = LCASE(LANG({other})) && LANG({value}) != "", '
                    "true)) }",
                    False,
                )
            )
        return parts

    def _min_count(self, pattern: str, count: int) -> Expr:
        if count <= 0:
            return Expr(FALSE, True)
        if count == 1:
            return Expr(f"NOT EXISTS {{ {pattern} }}", True)
        self.unsupported.add(f"sh:minCount {count}")
        return Expr(TRUE, False)

    def _max_count(self, path: Node, node: str, count: int) -> Expr:
        values = [self._var() for _ in range(count + 1)]
        patterns = " ".join(str(self._path(path, node, v)) for v in values)
        distinct = " && ".join(f"!sameTerm({a}, {b})" for a, b in itertools.combinations(values, 2))
        condition = f" FILTER({distinct})" if distinct else ""
        return Expr(f"EXISTS {{ {patterns}{condition} }}", True)

    def _qualified(
        self, shape: Node, qualified: Node, pattern: str, value: str, depth: int
    ) -> Expr:
        minimum = self.shapes.value(shape, SH.qualifiedMinCount)
        if self.shapes.value(shape, SH.qualifiedMaxCount) is not None or (
            self.shapes.value(shape, SH.qualifiedValueShapesDisjoint) == Literal(True)
        ):
            self.unsupported.add(f"qualified counts on {shape}")
            return Expr(TRUE, False)
        if minimum is None or int(cast(Literal, minimum).toPython()) <= 0:
            return Expr(FALSE, True)
        if int(cast(Literal, minimum).toPython()) > 1:
            self.unsupported.add(f"sh:qualifiedMinCount {minimum}")
            return Expr(TRUE, False)
        inner = self.violates(qualified, value, depth + 1)
        if not inner.exact:
            return Expr(TRUE, False)
        return Expr(f"NOT EXISTS {{ {pattern} FILTER(!({inner.text})) }}", True)

    def _value_constraints(self, shape: Node, v: str, depth: int) -> list[Expr]:
        """Constraints on each value node ``v`` (the node itself for a node shape)."""
        on_property = self.shapes.value(shape, SH.path) is not None
        parts: list[Expr] = []
        for parameter, argument in self.shapes.predicate_objects(shape):
            if parameter in _IGNORED or parameter == SH.property:
                continue
            if on_property and parameter in _COUNTED:  # handled by _property
                continue
            if parameter == SH.hasValue:
                parts.append(Expr(f"!sameTerm({v}, {_term(argument)})", True))
                continue
            parts.append(self._value_constraint(shape, parameter, argument, v, depth))
        return parts

    def _value_constraint(
        self, shape: Node, parameter: Node, argument: Node, v: str, depth: int
    ) -> Expr:
        if parameter == SH["class"]:
            return Expr(self._not_instance_of(v, argument), True)
        if parameter == SH.datatype:
            bad = self.bad_literals.get(str(argument), [])
            checks = [
                f"!isLiteral({v})",
                f"DATATYPE({v}) != {sparql_iri(str(argument))}",
                *(f"sameTerm({v}, {b})" for b in bad),
            ]
            lexical = LEXICAL.get(cast(URIRef, argument))
            if lexical is not None:
                checks.append(f"!REGEX(STR({v}), {_term(Literal(lexical))})")
            return Expr("(" + " || ".join(checks) + ")", lexical is None)
        if parameter == SH.nodeKind and argument in _NODE_KINDS:
            return Expr(_NODE_KINDS[argument].format(v=v), True)
        if parameter == SH["in"]:
            members = list(Collection(self.shapes, argument))
            same = " || ".join(f"sameTerm({v}, {_term(m)})" for m in members) or FALSE
            return Expr(f"!({same})", True)
        if parameter in _COMPARISONS:
            operator = _COMPARISONS[parameter]
            return Expr(f"!COALESCE({v} {operator} {_term(argument)}, false)", False)
        if parameter in _LENGTHS:
            operator = _LENGTHS[parameter]
            limit = int(cast(Literal, argument).toPython())
            return Expr(
                f"(isBlank({v}) || !COALESCE(STRLEN(STR({v})) {operator} {limit}, false))", False
            )
        if parameter == SH.pattern:
            flags = self.shapes.value(shape, SH.flags)
            regex = f"REGEX(STR({v}), {_term(Literal(str(argument)))}"
            regex += f", {_term(Literal(str(flags)))})" if flags is not None else ")"
            return Expr(f"(isBlank({v}) || !COALESCE({regex}, false))", False)
        if parameter == SH.languageIn:
            tags = [str(t) for t in Collection(self.shapes, argument)]
            matches = " || ".join(f"langMatches(LANG({v}), {_term(Literal(t))})" for t in tags)
            return Expr(f"(!isLiteral({v}) || !COALESCE({matches or FALSE}, false))", False)
        if parameter == SH.node:
            return self.violates(argument, v, depth + 1)
        if parameter == SH["not"]:
            return _not(self.violates(argument, v, depth + 1))
        if parameter == SH["or"]:
            members = list(Collection(self.shapes, argument))
            return _all([self.violates(m, v, depth + 1) for m in members])
        if parameter == SH["and"]:
            members = list(Collection(self.shapes, argument))
            return _any([self.violates(m, v, depth + 1) for m in members])
        self.unsupported.add(f"{parameter} on {shape}")
        return Expr(TRUE, False)

    def targets(self, shape: Node, focus: str) -> list[str]:
        """One SPARQL pattern binding ``focus`` per target declaration of ``shape``."""
        patterns: list[str] = []
        rdf_type = sparql_iri(str(RDF.type))
        classes = list(self.shapes.objects(shape, SH.targetClass))
        if (shape, RDF.type, RDFS.Class) in self.shapes:  # implicit class target
            classes.append(shape)
        for cls in classes:
            # One branch per class: oxigraph looks each up in its index (a FILTER(?t IN ...)
            # would scan every rdf:type triple).
            members = sorted(self.classes.get(str(cls), {str(cls)}))
            patterns.append(
                " UNION ".join(f"{{ {focus} {rdf_type} {sparql_iri(c)} }}" for c in members)
            )
        for predicate in self.shapes.objects(shape, SH.targetSubjectsOf):
            patterns.append(f"{focus} {sparql_iri(str(predicate))} ?any .")
        for predicate in self.shapes.objects(shape, SH.targetObjectsOf):
            patterns.append(f"?any {sparql_iri(str(predicate))} {focus} .")
        nodes = [n for n in self.shapes.objects(shape, SH.targetNode) if isinstance(n, URIRef)]
        if nodes:
            patterns.append(f"VALUES {focus} {{ {' '.join(_term(n) for n in nodes)} }}")
        return patterns

    def queries(self) -> list[str]:
        """SELECTs of candidate focus nodes: per shape, target declaration and disjunct.

        Separate queries let oxigraph join each constraint's pattern with the targets, or
        anti-join a ``NOT EXISTS``, rather than evaluate one large expression per node.
        """
        found: list[str] = []
        shapes = {
            s
            for term in (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
            for s in self.shapes.subjects(term, None)
        } | set(self.shapes.subjects(RDF.type, RDFS.Class))
        for shape in sorted(shapes, key=str):
            parts = [p for p in self.parts(shape, "?this") if p.text != FALSE]
            for target in self.targets(shape, "?this"):
                for part in parts:
                    found.append(f"SELECT DISTINCT ?this WHERE {{ {{ {target} }} {_where(part)} }}")
        return found


def _where(part: Expr) -> str:
    """A disjunct as a group to join with the targets, or a filter on them."""
    if part.text.startswith("EXISTS {") and part.text.endswith("}"):
        return part.text.removeprefix("EXISTS ")
    if part.text.startswith("NOT EXISTS {") and part.text.endswith("}"):
        return f"FILTER({part.text})"
    return f"FILTER(COALESCE({part.text}, true))"


def _subclasses(store: ox.Store, policy: UriPolicy) -> dict[str, set[str]]:
    """Each class with its rdfs:subClassOf descendants, outside the shapes graph."""
    shapes = sparql_iri(policy.shapes_graph)
    children: dict[str, set[str]] = defaultdict(set)
    query = (
        f"SELECT DISTINCT ?sub ?sup WHERE {{ GRAPH ?g {{ ?sub {sparql_iri(str(RDFS.subClassOf))} "
        f"?sup }} FILTER(?g != {shapes} && isIRI(?sub) && isIRI(?sup)) }}"
    )
    for row in cast(ox.QuerySolutions, store.query(query)):
        children[cast(ox.NamedNode, row["sup"]).value].add(cast(ox.NamedNode, row["sub"]).value)
    closure: dict[str, set[str]] = {}
    for cls in list(children):
        seen = {cls}
        pending = [cls]
        while pending:
            for child in children.get(pending.pop(), set()):
                if child not in seen:
                    seen.add(child)
                    pending.append(child)
        closure[cls] = seen
    return closure


def _well_typed(literal: Literal, datatype: URIRef) -> bool:
    """pySHACL 0.40's test for a literal whose datatype is the one the shape asks for."""
    if getattr(literal, "ill_typed", None) is True:
        return False
    wanted = _PYTHON_TYPES.get(datatype)
    if wanted is None:
        return True
    value = literal.value
    if datatype == XSD.integer and isinstance(value, bool):
        return False
    return isinstance(value, wanted)


def _bad_literals(store: ox.Store, shapes: Graph) -> dict[str, list[str]]:
    """Per sh:datatype of the shapes, its literals pySHACL calls ill-typed (usually none)."""
    datatypes = sorted({str(d) for d in shapes.objects(None, SH.datatype) if isinstance(d, URIRef)})
    datatypes = [d for d in datatypes if URIRef(d) in _PARSED_BY_RDFLIB | set(_PYTHON_TYPES)]
    datatypes = [d for d in datatypes if URIRef(d) not in {XSD.string, RDF.langString, *LEXICAL}]
    if not datatypes:
        return {}
    listed = ", ".join(sparql_iri(d) for d in datatypes)
    query = f"SELECT DISTINCT ?v WHERE {{ ?s ?p ?v FILTER(isLiteral(?v) && DATATYPE(?v) IN ({listed})) }}"
    bad: dict[str, list[str]] = defaultdict(list)
    for row in cast(ox.QuerySolutions, store.query(query)):
        term = cast(ox.Literal, row["v"])
        literal = cast(Literal, to_rdflib(term))
        if not _well_typed(literal, URIRef(term.datatype.value)):
            bad[term.datatype.value].append(str(term))
    return bad


def compile_problems(store: ox.Store, policy: UriPolicy) -> list[str]:
    """Why the merged default graph is not the data pySHACL sees (empty: it is).

    The queries read the default graph, which also holds the shapes graph: fine as long as
    no node described there is described or linked to in any other graph.
    """
    shapes = sparql_iri(policy.shapes_graph)
    query = (
        f"ASK {{ GRAPH {shapes} {{ ?n ?p ?o }} {{ GRAPH ?g {{ ?n ?q ?x }} }} UNION "
        f"{{ GRAPH ?g {{ ?x ?q ?n }} }} FILTER(?g != {shapes}) }}"
    )
    return ["the shapes graph describes nodes of the data"] if bool(store.query(query)) else []


def compiled_candidates(
    store: ox.Store, policy: UriPolicy, shapes: Graph
) -> tuple[list[str], set[str]]:
    """Focus nodes that may violate a SHACL Core constraint, and what was not compiled."""
    compiler = ShapeCompiler(shapes, _subclasses(store, policy), _bad_literals(store, shapes))
    found: set[str] = set()
    for query in compiler.queries():
        for row in cast(ox.QuerySolutions, store.query(query)):
            node = row["this"]
            if isinstance(node, ox.NamedNode):
                found.add(node.value)
            elif node is not None:
                compiler.unsupported.add(f"focus node {node} is not an IRI")
    return sorted(found), compiler.unsupported
