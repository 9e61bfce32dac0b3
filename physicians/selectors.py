from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects
from django.db.models.functions import Lower

from clinics.models import Clinic, Organization, Payer
from clinics.tenancy import get_for_organization_or_404

from .fit import ClinicProfile, fit_explanation, with_fit
from .models import NOT_YET_REFERRING, Affiliation, Gatekeeper, Physician, Practice, StageChange, search_key

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
    sort: str = "name"


def _matching(queryset: QuerySet[Physician], organization: Organization, query: str) -> QuerySet[Physician]:
    """Physicians whose name, NPI, practice or practice city contains `query`."""
    digits = query.strip()
    if digits.isdigit():
        return queryset.filter(npi__startswith=digits)
    key = search_key(query)
    if not key:
        return queryset
    practice_match = Affiliation.objects.filter(
        organization=organization, practice__search_text__contains=key
    ).values("physician_id")
    return queryset.filter(Q(search_text__contains=key) | Q(pk__in=practice_match))


def _with_practices(queryset: QuerySet[Physician]) -> QuerySet[Physician]:
    return queryset.prefetch_related(
        Prefetch(
            "affiliations",
            queryset=Affiliation.objects.select_related("practice").order_by("-is_primary", "practice__name"),
        )
    )


def physician_list(*, organization: Organization, filters: PhysicianFilters) -> QuerySet[Physician]:
    queryset: QuerySet[Physician] = Physician.objects.for_organization(organization).select_related("owner")
    if filters.query:
        queryset = _matching(queryset, organization, filters.query)
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
    return _with_practices(queryset.order_by(*PHYSICIAN_SORTS.get(filters.sort, PHYSICIAN_SORTS["name"])))


def physician_search(*, organization: Organization, query: str, limit: int = 10) -> list[Physician]:
    """The typeahead: active physicians by NPI prefix, surname start (two letters), else by
    any fragment of their name, then by practice name.

    Name and practice matches are separate queries, not one OR: each can then
    use its own trigram index on PostgreSQL, and a physician whose own name
    matches is listed before colleagues at a practice whose name matches.
    """
    query = query.strip()
    if len(query) < 2:
        return []
    active = Physician.objects.for_organization(organization).filter(is_active=True)
    # Ordered by an expression no index covers, so PostgreSQL finds the matches
    # through the trigram index and sorts them, instead of walking the name
    # index until ten matches turn up (slow when the matches sort late).
    order = (Lower("last_name"), Lower("first_name"), "pk")
    if query.isdigit():
        # A range on the NPI index: LIKE 'prefix%' cannot use it under most collations.
        found = list(
            active.filter(npi__gte=query.ljust(10, "0"), npi__lte=query.ljust(10, "9")).order_by("npi")[
                :limit
            ]
        )
    elif len(query) < 3:
        # Too short for trigrams: two letters mean the start of a surname.
        found = list(
            active.annotate(last_name_lower=Lower("last_name"))
            .filter(last_name_lower__startswith=query.lower())
            .order_by(*order)[:limit]
        )
    else:
        key = search_key(query)
        found = list(active.filter(search_text__contains=key).order_by(*order)[:limit])
        if len(found) < limit:
            # Physicians at the first few practices whose name matches: a common
            # word ("Lakewood") names thousands of colleagues, and ten is all
            # the list shows.
            practice_ids = list(
                Practice.objects.for_organization(organization)
                .filter(search_text__contains=key)
                .order_by(Lower("name"), "pk")
                .values_list("pk", flat=True)[:limit]
            )
            at_practice = Affiliation.objects.filter(practice_id__in=practice_ids).values("physician_id")
            found += (
                active.filter(pk__in=at_practice)
                .exclude(pk__in=[p.pk for p in found])
                .order_by(*order)[: limit - len(found)]
            )
    prefetch_related_objects(
        found,
        Prefetch(
            "affiliations",
            queryset=Affiliation.objects.select_related("practice").order_by("-is_primary", "practice__name"),
        ),
    )
    return found


def _name_key(*parts: str) -> str:
    # A comma sets off a credential ("Ada Quill, MD") or a surname ("Quill, Ada"): not part of the name.
    return search_key(*(part.replace(",", " ") for part in parts))


def _names_of(physician: Physician) -> set[str]:
    first, middle, last, credential = (
        physician.first_name,
        physician.middle_name,
        physician.last_name,
        physician.credential,
    )
    return {
        _name_key(first, last),
        _name_key(first, middle, last),
        _name_key(first, last, credential),
        _name_key(first, middle, last, credential),
        _name_key(last, first),
    }


def physician_answers_to(physician: Physician, query: str) -> bool:
    """Whether `query` is the physician's NPI or full name, as the typeahead labels them or "Last, First"."""
    query = query.strip()
    return bool(query) and (query == physician.npi or _name_key(query) in _names_of(physician))


def physicians_named(*, organization: Organization, query: str) -> list[Physician]:
    """The organization's physicians whose NPI or full name is `query`, for a name typed without JavaScript.

    1. Candidates: physicians whose search text contains every word of the
       query (at least two letters long; an initial narrows nothing).
    2. Matches: the candidates whose name or NPI is exactly the query.
    A query vague enough to leave more than NAMED_CANDIDATES_MAX candidates
    matches nobody: the caller then asks for the full name or the NPI.
    """
    query = query.strip()
    physicians = Physician.objects.for_organization(organization)
    if query.isdigit():
        return list(physicians.filter(npi=query))
    words = [word for word in _name_key(query).split() if len(word) >= 2]
    if not words:
        return []
    for word in words:
        physicians = physicians.filter(search_text__contains=word)
    candidates = list(physicians.order_by("last_name", "first_name", "pk")[: NAMED_CANDIDATES_MAX + 1])
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


def prospects(
    *, organization: Organization, profile: ClinicProfile, filters: PhysicianFilters
) -> QuerySet[Physician]:
    """Physicians who do not refer yet, best fit first."""
    queryset = (
        physician_list(organization=organization, filters=filters)
        .filter(stage__in=NOT_YET_REFERRING)
        .prefetch_related("affiliations__practice__populations")
    )
    return with_fit(queryset, profile, practice_path="practice__affiliations__physician").order_by(
        "-fit_score", "last_name", "first_name", "pk"
    )


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
    if query:
        queryset = queryset.filter(search_text__contains=search_key(query))
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
            practice.phone if practice else "",
            practice.fax if practice else "",
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
