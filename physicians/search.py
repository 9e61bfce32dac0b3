"""How names, numbers and typed queries are made comparable, and how close two names are.

One normalization serves the stored search text (`physician_search_text`,
`practice_search_text`: model save(), the NPPES bulk import, migrations) and
the typed query (`SearchQuery`), so both sides always agree:

* case and accents go ("Núñez" is "nunez"), apostrophes and periods join
  ("O'Connell" is "oconnell", "M.D." is "md"), any other punctuation separates
  ("Smith-Jones" is "smith jones", "Mbeki, Grace" is "mbeki grace");
* the query loses titles and credentials ("Dr.", "MD", "PA-C"), which the
  stored text never holds; word order never matters;
* numbers are compared as their digits: "(503) 555-0142" is "5035550142".

Closeness is pg_trgm's strict word similarity: the share of trigrams a typed
word has in common with whole words of the text. PostgreSQL computes it (and
finds candidates through the GIN trigram index with `%>>`); SQLite gets the
same function in Python, registered on each connection.
"""

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from django.db.models import CharField, FloatField, Func, Lookup, Value

# How close a misspelling may be and still be offered: "fisher" is 0.5 from
# "fischer", "mbecki" 0.44 from "mbeki", "jonson" 0.5 from "johnson"; at 0.3
# unrelated names start to match. PostgreSQL's default (0.5) is set on each
# connection to this value (physicians/apps.py).
SIMILARITY_THRESHOLD = 0.4
# Shorter words are compared only as typed: one wrong letter in four leaves too
# few trigrams in common to tell a misspelling from another name, and a word
# typed so far ("fisc") is found by the start of the name anyway.
FUZZY_MIN_LENGTH = 5

# Typed in front of or after a name on a fax or by habit, never part of it.
TITLES = frozenset({"dr", "doctor", "prof", "professor", "mr", "mrs", "ms", "miss", "mx"})
CREDENTIALS = frozenset(
    {
        "md", "do", "mbbs", "phd", "dpm", "dc", "dds", "dmd", "od", "np", "fnp", "anp", "agnp", "aprn",
        "crnp", "cnp", "dnp", "rn", "pa", "pac", "c", "pt", "dpt", "mpt", "ot", "otr", "atc", "ms", "mph",
        "facs", "facp", "faafp", "faaos", "facc", "jr", "sr",
    }
)  # fmt: skip

_JOINING = "'’‘`´ʼ."
_FOLDED = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})


def searchable(*parts: str) -> str:
    """Words without case, accents or punctuation: "Siobhán O'Connell-Ruiz" → "siobhan oconnell ruiz"."""
    text = " ".join(part for part in parts if part).casefold()
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_FOLDED)
    for mark in _JOINING:
        text = text.replace(mark, "")
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _phone_digits(value: str) -> str:
    """A North American number's 10 digits, without the country code a stored "+1…" carries."""
    found = digits(value)
    return found[1:] if len(found) == 11 and found.startswith("1") else found


def physician_search_text(*, first_name: str, middle_name: str, last_name: str) -> str:
    """A physician's name as search compares it. Only the name: digits would triple the cost of every
    similarity computed against it (their NPI is searched in its own column, phones on the practice)."""
    return searchable(first_name, middle_name, last_name)[:400]


def practice_search_text(*, name: str, city: str, phone: str, fax: str) -> str:
    return " ".join(
        part for part in (searchable(name, city), _phone_digits(phone), _phone_digits(fax)) if part
    )[:400]


@dataclass(frozen=True)
class SearchQuery:
    """A typed search, read once: its words without titles or credentials, or the number it is."""

    words: tuple[str, ...]  # what must match
    named: tuple[str, ...]  # the same with credentials kept: a surname may be one ("Linh Do")
    number: str  # the digits of a query that has no letters

    @classmethod
    def parse(cls, query: str) -> "SearchQuery":
        query = query.strip()
        if query and not any(c.isalpha() for c in query):
            return cls(words=(), named=(), number=_phone_digits(query))
        typed = tuple(searchable(query).split())
        # An initial narrows nothing (every name has the letter somewhere).
        typed = tuple(word for word in typed if len(word) > 1) or typed
        named = tuple(word for word in typed if word not in TITLES) or typed
        words = tuple(word for word in named if word not in CREDENTIALS) or named
        return cls(words=words, named=named, number="")

    @property
    def fuzzy_text(self) -> str:
        return " ".join(self.words)


# ---- Similarity, the same on both databases ---------------------------------


@lru_cache(maxsize=4096)
def _word_trigrams(text: str) -> tuple[frozenset[str], ...]:
    """pg_trgm's trigrams of each word: lower-cased, two spaces before it and one after."""
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    return tuple(frozenset(f"  {w} "[i : i + 3] for i in range(len(w) + 1)) for w in words)


def strict_word_similarity(query: str | None, text: str | None) -> float:
    """pg_trgm's strict_word_similarity(query, text), for SQLite.

    1. Trigrams of the query (a set), and of each word of the text.
    2. For every run of consecutive whole words of the text, the Jaccard index
       of the query's trigrams and the run's.
    3. The best of those.
    """
    if not query or not text:
        return 0.0
    wanted = frozenset().union(*_word_trigrams(query))
    if not wanted:
        return 0.0
    words = _word_trigrams(text)
    best = 0.0
    for start in range(len(words)):
        extent: frozenset[str] = frozenset()
        for word in words[start:]:
            extent |= word
            shared = len(wanted & extent)
            best = max(best, shared / (len(wanted) + len(extent) - shared))
    return best


class Resembles(Lookup):
    """`text` has whole words within SIMILARITY_THRESHOLD of the query: `text %>> query` on PostgreSQL,
    where the GIN trigram index finds the candidates."""

    lookup_name = "resembles"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} %%>> {rhs}", (*lhs_params, *rhs_params)
        return (
            f"strict_word_similarity({rhs}, {lhs}) >= {SIMILARITY_THRESHOLD}",
            (*rhs_params, *lhs_params),
        )


class Similarity(Func):
    """strict_word_similarity(query, text), from 0 to 1."""

    function = "strict_word_similarity"
    output_field = FloatField()

    def __init__(self, text, query: str):
        super().__init__(Value(query, output_field=CharField()), text)
