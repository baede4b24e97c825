"""Competency questions: SPARQL queries whose expected answers are taken from the articles.

Each ``tests/competency/NN-name.rq`` has ``NN-name.csv`` beside it: IRIs under the base
written relative, literals as their lexical form. Rows compare as a multiset.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from lod_publisher.releases import Release
from lod_publisher.store.embedded import EmbeddedBackend
from lod_publisher.uris import UriPolicy

FOLDER = Path(__file__).parent / "competency"
QUESTIONS = sorted(FOLDER.glob("*.rq"))


def test_there_are_at_least_thirty_questions() -> None:
    assert len(QUESTIONS) >= 30
    for query in QUESTIONS:
        assert query.read_text(encoding="utf-8").startswith("# Question: "), query.name
        assert query.with_suffix(".csv").is_file(), f"{query.name} has expected answers"


def expected_rows(path: Path) -> tuple[list[str], Counter[tuple[str, ...]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], Counter(tuple(row) for row in rows[1:])


def actual_rows(
    backend: EmbeddedBackend, policy: UriPolicy, query: str, variables: list[str]
) -> Counter[tuple[str, ...]]:
    full = f"BASE <{policy.base}>\n{query}"
    if variables == ["ask"]:
        return Counter([("true" if backend.ask(full) else "false",)])
    rows = backend.select(full)
    return Counter(
        tuple(policy.relative(str(row[v])) if v in row else "" for v in variables) for row in rows
    )


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda p: p.stem)
def test_competency_question(question: Path, release: Release) -> None:
    policy = UriPolicy(release.base_uri)
    backend = EmbeddedBackend.open(release.store_path)
    variables, expected = expected_rows(question.with_suffix(".csv"))
    actual = actual_rows(backend, policy, question.read_text(encoding="utf-8"), variables)
    missing, extra = expected - actual, actual - expected
    assert not missing and not extra, (
        f"{question.read_text(encoding='utf-8').splitlines()[0]}\n"
        f"missing: {sorted(missing)}\nunexpected: {sorted(extra)}"
    )
