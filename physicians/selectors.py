from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
    Window,
    prefetch_related_objects,
)
from django.db.models.functions import Concat, Lower

from clinics.models import Clinic, Organization, Payer
from clinics.phones import phone_display
from clinics.tenancy import get_for_organization_or_404

from .fit import STRONG_FIT, ClinicProfile, fit_explanation, with_fit
from .models import NOT_YET_REFERRING, Affiliation, Gatekeeper, Physician, Practice, StageChange
from .search import FUZZY_MIN_LENGTH, Resembles, SearchQuery, Similarity, searchable

PHYSICIAN_SORTS = {
    "name": ("last_name", "first_name", "pk"),
    "-created": ("-created_at", "-pk"),
    "stage": ("stage", "last_name", "pk"),
    "tier": ("tier", "last_name", "pk"),
    "specialty": ("taxonomy_code", "last_name", "pk"),
}

# A typed name that leaves more candidates than this to compare is too vague to resolve.
NAMED_CANDIDATES_MAX = 200


@dataclass(frozen=True)
class PhysicianFilters:
    query: str = ""
    stage: str = ""
    tier: str = ""
    owner_id: int | None = None
    taxonomy_code: str = ""
    payer: Payer | None = None
    active: bool | None = True
    sort: str = ""  # a key of PHYSICIAN_SORTS; none: best match first when searching, else by name


def _contains_words(words: tuple[str, ...], field: str = "search_text") -> Q:
    return Q(*(Q(**{f"{field}__contains": word}) for word in words))


def _practices_matching(organization: Organization, query: SearchQuery) -> QuerySet[Practice]:
    """Practices whose name, city, phone or fax holds every word (or the number) of the query."""
    practices = Practice.objects.for_organization(organization)
    if query.number:
        return practices.filter(search_text__contains=query.number)
    return practices.filter(_contains_words(query.words))


def _at(practices: QuerySet[Practice, Any]) -> Q:
    return Q(pk__in=Affiliation.objects.filter(practice__in=practices).values("physician_id"))


def _npi_starts(number: str) -> Q:
    # A range on the NPI index: LIKE 'prefix%' cannot use it under most collations.
    return Q(npi__gte=number.ljust(10, "0"), npi__lte=number.ljust(10, "9"))


def _npi_ends(number: str) -> Q:
    # A trigram index on the NPI serves this on PostgreSQL (migration 0004).
    return Q(npi__endswith=number)


def _name_matches(query: SearchQuery) -> Q:
    """Every word is in the physician's search text, or, if long enough to misspell, resembles a word of it.

    One condition per word, not one for the whole query: "Fischer, Grace"
    then needs both names, where a resemblance to the whole query would take
    every Fischer and every Grace and compare thousands of rows.
    """

    def matches(word: str) -> Q:
        contains = Q(search_text__contains=word)
        if len(word) < FUZZY_MIN_LENGTH:
            return contains
        return contains | Q(Resembles(F("search_text"), word))

    return Q(*(matches(word) for word in query.words))


def _ranked(queryset: QuerySet[Physician], query: SearchQuery) -> QuerySet[Physician]:
    """Best match first: whole words, then word starts, then fragments, then resemblances.

    1. `search_rank` 0: every word typed, credentials included, is a whole
       word of the name ("Linh Do" is Dr. Do before every other Linh).
    2. 1: every word without titles and credentials is a whole word.
    3. 2: every word starts a word; 3: every word is inside the search text;
       4: none of these (a resemblance).
    4. Resemblances by similarity, closest first; then by name.
    """
    padded = Concat(Value(" "), F("search_text"), Value(" "))

    def framed(words: tuple[str, ...], end: str) -> Q:
        return _contains_words(tuple(f" {word}{end}" for word in words), field="padded_search_text")

    ranks = [When(framed(query.named, " "), then=0)]
    if query.named != query.words:
        ranks.append(When(framed(query.words, " "), then=1))
    ranks += [When(framed(query.words, ""), then=2), When(_contains_words(query.words), then=3)]
    # Only resemblances need a similarity: computing it for thousands of exact
    # matches ("fischer") would cost more than the search.
    closeness = Case(
        When(_contains_words(query.words), then=Value(1.0)),
        default=Similarity(F("search_text"), query.fuzzy_text),
        output_field=FloatField(),
    )
    return queryset.annotate(
        padded_search_text=padded,
        search_rank=Case(*ranks, default=4, output_field=IntegerField()),
        search_closeness=closeness,
    ).order_by("search_rank", "-search_closeness", Lower("last_name"), Lower("first_name"), "pk")


def _matching(
    queryset: QuerySet[Physician], organization: Organization, query: SearchQuery
) -> QuerySet[Physician]:
    """Physicians the directory's search box finds: by name (forgivingly), NPI, phone, practice or city."""
    if query.number:
        match = _npi_starts(query.number) if len(query.number) <= 10 else Q(pk__in=[])
        if len(query.number) == 4:
            match |= _npi_ends(query.number)
        if len(query.number) >= 7:
            match |= _at(_practices_matching(organization, query))
        return queryset.filter(match)
    if not query.words:
        return queryset
    return queryset.filter(_name_matches(query) | _at(_practices_matching(organization, query)))


def _with_practices(queryset: QuerySet[Physician]) -> QuerySet[Physician]:
    return queryset.prefetch_related(
        Prefetch(
            "affiliations",
            queryset=Affiliation.objects.select_related("practice").order_by("-is_primary", "practice__name"),
        )
    )


def physician_list(*, organization: Organization, filters: PhysicianFilters) -> QuerySet[Physician]:
    queryset: QuerySet[Physician] = Physician.objects.for_organization(organization).select_related("owner")
    query = SearchQuery.parse(filters.query)
    queryset = _matching(queryset, organization, query)
    if filters.stage:
        queryset = queryset.filter(stage=filters.stage)
    if filters.tier:
        queryset = queryset.filter(tier=filters.tier)
    if filters.owner_id:
        queryset = queryset.filter(owner_id=filters.owner_id)
    if filters.taxonomy_code:
        queryset = queryset.filter(taxonomy_code=filters.taxonomy_code)
    if filters.payer:
        queryset = queryset.filter(
            pk__in=Affiliation.objects.filter(
                organization=organization, practice__payers=filters.payer
            ).values("physician_id")
        )
    if filters.active is not None:
        queryset = queryset.filter(is_active=filters.active)
    if filters.sort in PHYSICIAN_SORTS:
        queryset = queryset.order_by(*PHYSICIAN_SORTS[filters.sort])
    elif query.words:
        queryset = _ranked(queryset, query)
    else:
        queryset = queryset.order_by(*PHYSICIAN_SORTS["name"])
    return _with_practices(queryset)


def physician_search(*, organization: Organization, query: str, limit: int = 10) -> list[Physician]:
    """The typeahead: active physicians by name (forgiving spelling), NPI, phone or practice name.

    A query of digits finds NPIs that start with them, an NPI's last four
    digits, and the physicians at practices whose phone or fax holds a number
    of seven digits or more. Words find physicians by name, best match first
    (see `_ranked`), then physicians at the first few practices whose name or
    city holds them. Words of two letters at most only find surnames that
    start with them: too short for trigrams.

    Name and practice matches are separate queries, not one OR: each can then
    use its own trigram index on PostgreSQL. Every step runs whatever it finds,
    so a search of each kind costs the same number of queries.
    """
    parsed = SearchQuery.parse(query)
    active = Physician.objects.for_organization(organization).filter(is_active=True)
    # Ordered by an expression no index covers, so PostgreSQL finds the matches
    # through the trigram index and sorts them, instead of walking the name
    # index until ten matches turn up (slow when the matches sort late).
    order = (Lower("last_name"), Lower("first_name"), "pk")
    batches: list[list[Physician]] = []
    if parsed.number:
        number = parsed.number
        if len(number) == 4:
            batches.append(list(active.filter(_npi_ends(number)).order_by(*order)[:limit]))
        if len(number) >= 7:
            batches.append(
                list(active.filter(_at(_practices_matching(organization, parsed))).order_by(*order)[:limit])
            )
        if len(number) <= 10:
            batches.append(list(active.filter(_npi_starts(number)).order_by("npi")[:limit]))
    elif parsed.words and max(map(len, parsed.words)) < 3:
        # Two letters mean the start of a surname.
        surname = "".join(parsed.words)
        batches.append(
            list(
                active.annotate(last_name_lower=Lower("last_name"))
                .filter(last_name_lower__startswith=surname)
                .order_by(*order)[:limit]
            )
        )
    elif parsed.words:
        practices = _practices_matching(organization, parsed)
        exact = active.filter(_contains_words(parsed.words))
        batches.append(list(_ranked(exact, parsed)[:limit]))
        if max(map(len, parsed.words)) >= FUZZY_MIN_LENGTH:
            # Resemblances only when the words as typed fill no list: they would
            # rank below it, and comparing every name that shares a few letters
            # with the query is the slowest thing a search can do. A word in a
            # practice's name or city is no misspelling either. Both conditions
            # name no row, so PostgreSQL tests them once and skips the scan.
            resembling = active.filter(
                ~Exists(exact.order_by()[limit - 1 : limit]),
                ~Exists(practices),
                _name_matches(parsed),
            ).exclude(_contains_words(parsed.words))
            closest = resembling.annotate(search_closeness=Similarity(F("search_text"), parsed.fuzzy_text))
            batches.append(list(closest.order_by("-search_closeness", *order)[:limit]))
        # Physicians at the first few practices whose name matches: a common
        # word ("Lakewood") names thousands of colleagues, and ten is all the
        # list shows. Twice that, as up to ten may already be listed by name.
        first_practices = practices.order_by(Lower("name"), "pk").values("pk")[:limit]
        batches.append(list(active.filter(_at(first_practices)).order_by(*order)[: 2 * limit]))
    found = list({physician.pk: physician for batch in batches for physician in batch}.values())[:limit]
    prefetch_related_objects(
        found,
        Prefetch(
            "affiliations",
            queryset=Affiliation.objects.select_related("practice").order_by("-is_primary", "practice__name"),
        ),
    )
    return found


def _names_of(physician: Physician) -> set[str]:
    first, middle, last = physician.first_name, physician.middle_name, physician.last_name
    return {
        searchable(first, last),
        searchable(first, middle, last),
        searchable(last, first),
        searchable(last, first, middle),
    }


def physician_answers_to(physician: Physician, query: str) -> bool:
    """Whether `query` is the physician's NPI or full name, in any order, titles and credentials aside."""
    if not query.strip():
        return False
    parsed = SearchQuery.parse(query)
    if parsed.number:
        return parsed.number == physician.npi
    names = _names_of(physician)
    return " ".join(parsed.words) in names or " ".join(parsed.named) in names


def physicians_named(*, organization: Organization, query: str) -> list[Physician]:
    """The organization's physicians whose NPI or full name is `query`, for a name typed without JavaScript.

    1. Candidates: physicians whose search text contains every word of the
       query (at least two letters long; an initial narrows nothing).
    2. Matches: the candidates whose name or NPI is exactly the query.
    A query vague enough to leave more than NAMED_CANDIDATES_MAX candidates
    matches nobody: the caller then asks for the full name or the NPI.
    """
    parsed = SearchQuery.parse(query)
    physicians = Physician.objects.for_organization(organization)
    if parsed.number:
        return list(physicians.filter(npi=parsed.number))
    words = tuple(word for word in parsed.words if len(word) >= 2)
    if not words:
        return []
    candidates = list(
        physicians.filter(_contains_words(words)).order_by("last_name", "first_name", "pk")[
            : NAMED_CANDIDATES_MAX + 1
        ]
    )
    if len(candidates) > NAMED_CANDIDATES_MAX:
        return []
    return [physician for physician in candidates if physician_answers_to(physician, query)]


def physician_detail(*, organization: Organization, physician_id: int) -> Physician:
    # One Prefetch per call: each is typed by its own queryset.
    queryset = (
        Physician.objects.select_related("owner")
        .prefetch_related(
            Prefetch(
                "affiliations",
                queryset=Affiliation.objects.select_related("practice")
                .prefetch_related("practice__payers", "practice__populations")
                .order_by("-is_primary", "practice__name"),
            )
        )
        .prefetch_related(
            Prefetch("stage_changes", queryset=StageChange.objects.select_related("changed_by"))
        )
    )
    return get_for_organization_or_404(queryset, organization, pk=physician_id)


def gatekeepers_for_practices(*, organization: Organization, practice_ids: list[int]) -> QuerySet[Gatekeeper]:
    return (
        Gatekeeper.objects.for_organization(organization)
        .filter(practice_id__in=practice_ids, is_active=True)
        .select_related("practice")
    )


def physician_fit(*, physician: Physician, profile: ClinicProfile) -> tuple[int, str]:
    """Fit of one physician whose affiliations (with payers and populations) are prefetched."""
    scored = with_fit(
        Physician.objects.filter(pk=physician.pk), profile, practice_path="practice__affiliations__physician"
    ).values("fit_score", "fit_shared_payers")[0]
    populations = {p for a in physician.affiliations.all() for p in a.practice.populations.all()}
    explanation = fit_explanation(
        profile, shared_payers=scored["fit_shared_payers"], populations=sorted(populations, key=str)
    )
    return scored["fit_score"], explanation


PROSPECT_RANKING = ("-fit_score", "last_name", "first_name", "pk")


def prospects(
    *, organization: Organization, profile: ClinicProfile, filters: PhysicianFilters, min_fit: int = 0
) -> QuerySet[Physician]:
    """Physicians who do not refer yet, best fit first; only those fitting at least `min_fit` if given."""
    queryset = (
        physician_list(organization=organization, filters=filters)
        .filter(stage__in=NOT_YET_REFERRING)
        .prefetch_related("affiliations__practice__populations")
    )
    ranked = with_fit(queryset, profile, practice_path="practice__affiliations__physician")
    if min_fit:
        ranked = ranked.filter(fit_score__gte=min_fit)
    return ranked.order_by(*PROSPECT_RANKING)


@dataclass(frozen=True)
class BestFit:
    # Prospects that fit the clinic strongly (STRONG_FIT or more), as the prospects page counts them.
    strong: int
    # The best of them, annotated with `fit_score`.
    leading: list[Physician]


def prospects_best_fit(*, organization: Organization, profile: ClinicProfile, limit: int) -> BestFit:
    """How many active prospects fit `profile`'s clinic strongly, and the best `limit` of them: one query.

    The same physicians, in the same order, as `prospects` with no filter but `min_fit=STRONG_FIT`;
    a window count gives the total with the first rows.
    """
    queryset = Physician.objects.for_organization(organization).filter(
        is_active=True, stage__in=NOT_YET_REFERRING
    )
    ranked = (
        with_fit(queryset, profile, practice_path="practice__affiliations__physician")
        .filter(fit_score__gte=STRONG_FIT)
        .annotate(strong_total=Window(Count("pk")))
        .order_by(*PROSPECT_RANKING)
    )
    leading: list[Physician] = list(ranked[:limit])
    # Every row carries the window's count, an annotation unknown to the model's type.
    strong: int = leading[0].strong_total if leading else 0  # type: ignore[attr-defined]
    return BestFit(strong=strong, leading=leading)


def explain_rows(rows: Iterable[Physician], profile: ClinicProfile) -> None:
    """Sets `fit_explanation` on fit-annotated physicians whose practices' populations are prefetched."""
    for physician in rows:
        populations = {p for a in physician.affiliations.all() for p in a.practice.populations.all()}
        # Attributes of the annotated rows (`with_fit`), not model fields.
        physician.fit_explanation = fit_explanation(  # type: ignore[attr-defined]
            profile,
            shared_payers=physician.fit_shared_payers,  # type: ignore[attr-defined]
            populations=sorted(populations, key=str),
        )


def practice_list(
    *, organization: Organization, query: str = "", active: bool | None = True
) -> QuerySet[Practice]:
    queryset = Practice.objects.for_organization(organization)
    words = tuple(searchable(query).split())
    if words:
        queryset = queryset.filter(_contains_words(words))
    if active is not None:
        queryset = queryset.filter(is_active=active)
    return queryset.order_by("name", "pk")


def practice_detail(*, organization: Organization, practice_id: int) -> Practice:
    # One Prefetch per call: each is typed by its own queryset.
    queryset = (
        Practice.objects.prefetch_related("payers", "populations")
        .prefetch_related(Prefetch("affiliations", queryset=Affiliation.objects.select_related("physician")))
        .prefetch_related(
            Prefetch("gatekeepers", queryset=Gatekeeper.objects.order_by("-is_active", "last_name"))
        )
    )
    return get_for_organization_or_404(queryset, organization, pk=practice_id)


def practice_fit(*, practice: Practice, profile: ClinicProfile) -> tuple[int, str]:
    scored = with_fit(Practice.objects.filter(pk=practice.pk), profile, practice_path="practice").values(
        "fit_score", "fit_shared_payers"
    )[0]
    explanation = fit_explanation(
        profile, shared_payers=scored["fit_shared_payers"], populations=list(practice.populations.all())
    )
    return scored["fit_score"], explanation


def clinic_for_fit(
    *, organization: Organization, clinic_id: int | None, default: Clinic | None
) -> Clinic | None:
    clinics = Clinic.objects.for_organization(organization).filter(is_active=True)
    if clinic_id:
        chosen = clinics.filter(pk=clinic_id).first()
        if chosen:
            return chosen
    return default if default and default.is_active else clinics.order_by("name").first()


def physician_export_rows(*, organization: Organization, filters: PhysicianFilters) -> Iterator[list[str]]:
    queryset = physician_list(organization=organization, filters=filters)
    for physician in queryset.iterator(chunk_size=2000):
        primary = next(iter(physician.affiliations.all()), None)
        practice = primary.practice if primary else None
        yield [
            physician.npi,
            physician.last_name,
            physician.first_name,
            physician.credential,
            physician.specialty,
            physician.get_stage_display(),
            physician.tier,
            str(physician.owner or ""),
            practice.name if practice else "",
            practice.address if practice else "",
            phone_display(practice.phone) if practice else "",
            phone_display(practice.fax) if practice else "",
            physician.email,
            "yes" if physician.is_active else "no",
        ]


def physician_possible_duplicates(
    *,
    organization: Organization,
    npi: str,
    first_name: str,
    last_name: str,
    practices: list[Practice],
    exclude_pk: int | None = None,
) -> list[Physician]:
    """Directory entries that may be the same person: same NPI, or same name at one of the same practices."""
    match = Q(
        first_name__iexact=first_name.strip(),
        last_name__iexact=last_name.strip(),
        affiliations__practice__in=practices,
    )
    if npi:
        match |= Q(npi=npi)
    queryset = Physician.objects.for_organization(organization).filter(match)
    if exclude_pk:
        queryset = queryset.exclude(pk=exclude_pk)
    return list(queryset.distinct().order_by("last_name", "first_name")[:5])


def active_clinics(*, organization: Organization) -> QuerySet[Clinic]:
    return Clinic.objects.for_organization(organization).filter(is_active=True).order_by("name")
