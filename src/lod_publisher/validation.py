"""SHACL validation (https://www.w3.org/TR/shacl/#validation-report) and a readable report.

pySHACL checks the merged data graph against ``shapes/`` with the ontology as
``ont_graph``, so ``sh:class`` follows ``rdfs:subClassOf`` (SHACL instance semantics,
https://www.w3.org/TR/shacl/#dfn-shacl-instance) without inferring anything into the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pyshacl
from rdflib import RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from lod_publisher.uris import UriPolicy

SH = Namespace("http://www.w3.org/ns/shacl#")


@dataclass(frozen=True)
class Finding:
    """One SHACL validation result, in words a data editor can act on."""

    severity: str  # "Violation", "Warning" or "Info"
    focus: str  # IRI of the focus node (or the blank node's label)
    focus_label: str | None
    path: str | None
    value: str | None
    message: str
    shape: str
    constraint: str

    def describe(self, policy: UriPolicy) -> str:
        focus = policy.relative(self.focus)
        if self.focus_label:
            focus += f' ("{self.focus_label}")'
        lines = [f"{self.severity}: {focus}"]
        if self.path:
            lines.append(f"  path:    {policy.compact(self.path)}")
        if self.value is not None:
            lines.append(f"  value:   {policy.compact(self.value)}")
        lines.append(f"  message: {self.message}")
        shape = " / ".join(policy.compact(part) for part in self.shape.split(" / "))
        lines.append(f"  shape:   {shape} ({self.constraint.rsplit('#', 1)[-1]})")
        return "\n".join(lines)


@dataclass(frozen=True)
class ValidationReport:
    conforms: bool
    findings: tuple[Finding, ...]
    graph: Graph  # the sh:ValidationReport, published with the build

    @property
    def violations(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "Violation")


def validate(data: Graph, shapes: Graph, ontology: Graph) -> ValidationReport:
    """Validate ``data`` against ``shapes``; the ontology supplies the class hierarchy."""
    conforms, report_graph, _ = pyshacl.validate(
        data,
        shacl_graph=shapes,
        ont_graph=ontology,
        inference="none",
        advanced=True,
        allow_warnings=True,
    )
    report_graph = cast(Graph, report_graph)
    findings = [
        _finding(report_graph, result, data, shapes)
        for result in report_graph.subjects(RDF.type, SH.ValidationResult)
    ]
    findings.sort(key=lambda f: (f.severity != "Violation", f.focus, f.path or "", f.message))
    return ValidationReport(bool(conforms), tuple(findings), report_graph)


def _text(node: Node | None) -> str | None:
    if node is None:
        return None
    return str(node)


def _label(node: Node, *graphs: Graph) -> str | None:
    for graph in graphs:
        for label in graph.objects(node, RDFS.label):
            if isinstance(label, Literal) and label.language in (None, "en"):
                return str(label)
    return None


def _path_text(report: Graph, path: Node | None) -> str | None:
    """A property path as text: a plain IRI, or pySHACL's blank-node structure in words."""
    if path is None:
        return None
    if isinstance(path, URIRef):
        return str(path)
    inverse = report.value(path, SH.inversePath)
    if inverse is not None:
        return f"^{inverse}"
    return "(complex path)"


def _shape_name(shapes: Graph, shape: Node | None) -> str:
    """A named shape's IRI; for a blank property shape, its node shape and path."""
    if shape is None:
        return "(unknown shape)"
    if not isinstance(shape, BNode):
        return str(shape)
    parent = shapes.value(None, SH.property, shape)
    path = shapes.value(shape, SH.path)
    name = str(parent) if parent is not None and not isinstance(parent, BNode) else "(anonymous)"
    return f"{name} / {path}" if isinstance(path, URIRef) else name


def _finding(report: Graph, result: Node, data: Graph, shapes: Graph) -> Finding:
    severity = report.value(result, SH.resultSeverity)
    focus = report.value(result, SH.focusNode)
    messages = sorted(str(m) for m in report.objects(result, SH.resultMessage))
    return Finding(
        severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
        focus=str(focus),
        focus_label=_label(focus, data) if focus is not None else None,
        path=_path_text(report, report.value(result, SH.resultPath)),
        value=_text(report.value(result, SH.value)),
        message="; ".join(messages) or "(the shape gives no message)",
        shape=_shape_name(shapes, report.value(result, SH.sourceShape)),
        constraint=str(report.value(result, SH.sourceConstraintComponent)),
    )


def format_report(report: ValidationReport, policy: UriPolicy) -> str:
    """The report as the CLI prints it: one block per finding, then a summary line."""
    blocks = [f.describe(policy) for f in report.findings]
    violations = len(report.violations)
    others = len(report.findings) - violations
    summary = (
        "Conforms: the data satisfies every shape."
        if report.conforms
        else f"Does not conform: {violations} violation(s)"
    )
    if others:
        summary += f", {others} warning(s)/info"
    return "\n\n".join([*blocks, summary])
