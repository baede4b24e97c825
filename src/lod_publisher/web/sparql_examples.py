"""Example queries for the query editor: competency questions of the dataset, and one DESCRIBE.

Each example whose slug names a file in ``tests/competency/`` is that competency question's
query, verbatim (``tests/test_sparql_http.py`` checks it), so every example is known to
answer what its question asks. IRIs are relative: :func:`with_base` puts the dataset's
base in front.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class Example:
    """One example: a slug (the competency question's file name), its question, its query."""

    slug: str
    question: str
    query: str

    def with_base(self, base: str) -> str:
        """The query as it runs: relative IRIs resolved against the dataset's base."""
        return f"BASE <{base}>\n{self.query}"

    def link(self, endpoint_path: str, base: str) -> str:
        """A shareable link that opens the editor with this query and runs it."""
        return f"{endpoint_path}?{urlencode({'query': self.with_base(base)})}"


EXAMPLES: tuple[Example, ...] = (
    Example(
        "01-ceremonies-9-may-2025",
        "Which ceremonies took place on 9 May 2025, at which memorial and in which city?",
        """\
PREFIX com:  <ontology/>
PREFIX xsd:  <http://www.w3.org/2001/XMLSchema#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?ceremony ?memorial ?city WHERE {
  VALUES ?type { com:WreathLayingCeremony com:MemorialCeremony }
  ?ceremony a ?type ;
            com:date "2025-05-09"^^xsd:date ;
            com:tookPlaceAt ?memorial .
  ?memorial a/rdfs:subClassOf* com:Memorial ;
            com:locatedIn ?city .
  ?city a com:City .
}
""",
    ),
    Example(
        "02-burials-per-memorial",
        "How many people of which group lie at each memorial, and which article says so?",
        """\
PREFIX com:  <ontology/>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT DISTINCT ?memorial ?group ?value ?article WHERE {
  GRAPH ?excerpt {
    ?count a com:BurialCount ; com:atPlace ?memorial ; com:ofGroup ?group ; com:value ?value .
  }
  ?excerpt prov:wasQuotedFrom ?article .
}
""",
    ),
    Example(
        "03-kazakhstan-representatives",
        "Who represented Kazakhstan at each ceremony, and in which role?",
        """\
PREFIX com:  <ontology/>
SELECT DISTINCT ?ceremony ?representative ?role WHERE {
  VALUES ?type { com:WreathLayingCeremony com:MemorialCeremony }
  ?ceremony a ?type .
  ?participation com:inEvent ?ceremony ;
                 com:participant ?representative ;
                 com:inRole ?role ;
                 com:onBehalfOf <id/place/kazakhstan> .
}
""",
    ),
    Example(
        "04-kazakhstan-war-dead-claims",
        "Which claims about Kazakhstan's war dead (and those who never returned) exist, with which value and qualifier, and which article states each?",
        """\
PREFIX com:  <ontology/>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?statistic ?value ?unit ?qualifier ?article WHERE {
  VALUES ?measure { <id/concept/war-dead> <id/concept/war-dead-share-of-population> <id/concept/share-not-returned> }
  ?statistic a com:Statistic ;
             com:aboutPlace <id/place/kazakhstan> ;
             com:measures ?measure ;
             com:value ?value ;
             com:unit ?unit ;
             prov:wasDerivedFrom ?excerpt .
  OPTIONAL { ?statistic com:valueQualifier ?qualifier }
  ?excerpt prov:wasQuotedFrom ?article .
}
""",
    ),
    Example(
        "05-events-in-astana",
        "Which events took place in Astana (called Nur-Sultan in some articles), and which article reports each?",
        """\
PREFIX com:  <ontology/>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT DISTINCT ?event ?article WHERE {
  GRAPH ?excerpt { ?event com:tookPlaceAt <id/place/astana> }
  ?excerpt prov:wasQuotedFrom ?article .
}
""",
    ),
    Example(
        "07-sentence-818-soviet-soldiers",
        "Which article and which sentences state that 818 Soviet soldiers lie at the Liberators of Belgrade memorial?",
        """\
PREFIX com:  <ontology/>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?article ?sentence WHERE {
  GRAPH ?excerpt {
    ?count a com:BurialCount ;
           com:atPlace <id/memorial/liberators-of-belgrade> ;
           com:ofGroup <id/group/soviet-soldiers> ;
           com:value 818 .
  }
  ?excerpt prov:wasQuotedFrom ?article ; com:text ?sentence .
}
""",
    ),
    Example(
        "09-people-roles-per-event",
        "Which people took part in which commemorative event, and in which role?",
        """\
PREFIX com:  <ontology/>
SELECT DISTINCT ?event ?person ?role WHERE {
  ?participation com:inEvent ?event ;
                 com:participant ?person ;
                 com:inRole ?role .
  ?person a com:Person .
  FILTER NOT EXISTS { ?event a com:HistoricalEvent }
}
""",
    ),
    Example(
        "13-names-of-astana",
        "Under which names do the articles refer to Astana, attested on which date, and in which article?",
        """\
PREFIX com:  <ontology/>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT DISTINCT ?name ?attestedOn ?article WHERE {
  <id/place/astana> com:placeName ?placeName .
  ?placeName com:nameText ?name ; prov:wasDerivedFrom ?excerpt .
  OPTIONAL { ?placeName com:attestedOn ?attestedOn }
  ?excerpt prov:wasQuotedFrom ?article .
}
""",
    ),
    Example(
        "16-jubilee-medals",
        "Who was awarded jubilee medals, where, how many, and in honour of what?",
        """\
PREFIX com:  <ontology/>
SELECT ?award ?recipients ?place ?count ?anniversary WHERE {
  ?award a com:MedalAward ;
         com:awardedTo ?recipients ;
         com:tookPlaceAt ?place .
  OPTIONAL { ?statistic com:aboutEvent ?award ; com:value ?count }
  OPTIONAL { ?award com:anniversary ?anniversary }
}
""",
    ),
    Example(
        "18-sentences-per-article",
        "How many sentences of each article state facts in the dataset (one named graph per sentence)?",
        """\
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?article (COUNT(DISTINCT ?excerpt) AS ?sentences) WHERE {
  GRAPH ?excerpt { ?s ?p ?o }
  ?excerpt prov:wasQuotedFrom ?article .
}
GROUP BY ?article
""",
    ),
    Example(
        "19-geonames-coordinates",
        "What are the GeoNames identifiers and coordinates of the cities where ceremonies took place on 9 May 2025?",
        """\
PREFIX com:  <ontology/>
PREFIX xsd:  <http://www.w3.org/2001/XMLSchema#>
PREFIX owl:  <http://www.w3.org/2002/07/owl#>
PREFIX geo:  <http://www.w3.org/2003/01/geo/wgs84_pos#>
SELECT DISTINCT ?city ?geonames ?lat ?long WHERE {
  ?ceremony com:date "2025-05-09"^^xsd:date ;
            com:tookPlaceAt ?memorial .
  ?memorial com:locatedIn ?city .
  ?city a com:City .
  GRAPH <graph/geonames> {
    ?city owl:sameAs ?geonames ; geo:lat ?lat ; geo:long ?long .
  }
}
""",
    ),
    Example(
        "20-wikidata-links",
        "Which entities are linked to Wikidata, and with which item?",
        """\
PREFIX owl:  <http://www.w3.org/2002/07/owl#>
SELECT ?entity ?wikidata WHERE {
  GRAPH <graph/wikidata> { ?entity owl:sameAs ?wikidata }
  FILTER(STRSTARTS(STR(?wikidata), "http://www.wikidata.org/entity/"))
}
""",
    ),
    Example(
        "21-tokayev-statements",
        "Which statements by Kassym-Jomart Tokayev do the articles report, of which kind, when, and in which article?",
        """\
PREFIX com:  <ontology/>
SELECT ?statement ?kind ?date ?article WHERE {
  VALUES ?kind { com:Quotation com:ReportedStatement }
  ?statement a ?kind ;
             com:speaker <id/person/kassym-jomart-tokayev> ;
             com:reportedIn ?article .
  OPTIONAL { ?statement com:date ?date }
}
""",
    ),
    Example(
        "26-symbols-at-events",
        "Which symbols were used at which events (including official symbols)?",
        """\
PREFIX com:  <ontology/>
SELECT DISTINCT ?event ?symbol WHERE {
  ?event com:usedSymbol|com:officialSymbol ?symbol .
}
""",
    ),
    Example(
        "29-execution-place-stated",
        "Does any article say where the 77 Soviet prisoners of war were executed on 9 April 1942?",
        """\
PREFIX com:  <ontology/>
ASK { <id/event/execution-of-soviet-pows-1942> com:tookPlaceAt ?place }
""",
    ),
    Example(
        "describe-astana",
        "What does the dataset say about Astana (as a graph)?",
        """\
DESCRIBE <id/place/astana>
""",
    ),
)
