"""Search over every label in every script, case- and diacritic-insensitive.

The index is small (one entry per label) and built once per process from one query.

>>> index = SearchIndex([("http://x/a", "Batyrlarğa tağzym", "kk-latn", 1), ("http://x/b", "Алматы", "kk", 1)])
>>> [hit.iri for hit in index.search("batyrlarga")]
['http://x/a']
>>> [hit.iri for hit in index.search("АЛМАТЫ")]
['http://x/b']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lod_publisher.labels import normalise_for_search


@dataclass(frozen=True)
class Hit:
    iri: str
    label: str
    lang: str | None


class SearchIndex:
    """Labels as (IRI, label, language, priority): a lower priority is a more preferred
    label property (the order of ``queries.LABEL_PROPERTIES``)."""

    def __init__(self, labels: Iterable[tuple[str, str, str | None, int]]) -> None:
        self._entries: list[tuple[str, Hit]] = []
        preferred: dict[str, tuple[tuple[int, int, str], str]] = {}
        for iri, label, lang, priority in labels:
            self._entries.append((normalise_for_search(label), Hit(iri, label, lang or None)))
            language_rank = 0 if (lang or "").startswith("en") else 1 if not lang else 2
            key = (priority, language_rank, label)
            if iri not in preferred or key < preferred[iri][0]:
                preferred[iri] = (key, label)
        self._display = {iri: label for iri, (_, label) in preferred.items()}

    def display_label(self, iri: str) -> str | None:
        """The label to show for ``iri``: best property, then English, then untagged."""
        return self._display.get(iri)

    def search(self, query: str, limit: int = 50) -> list[Hit]:
        """Resources with a label containing every word of ``query``; best matches first.

        A label equal to the query ranks first, then labels starting with it, then the
        rest; one hit per resource (its best-matching label).
        """
        words = normalise_for_search(query).split()
        if not words:
            return []
        phrase = " ".join(words)
        best: dict[str, tuple[tuple[int, int, str, str], Hit]] = {}
        for normalised, hit in self._entries:
            if all(word in normalised for word in words):
                rank = 0 if normalised == phrase else 1 if normalised.startswith(phrase) else 2
                # The label itself breaks ties, so the answer never depends on store order.
                key = (rank, len(normalised), normalised, hit.label)
                if hit.iri not in best or key < best[hit.iri][0]:
                    best[hit.iri] = (key, hit)
        ranked = sorted(best.values(), key=lambda item: (item[0], item[1].iri))
        return [hit for _, hit in ranked[:limit]]
