"""How well a referral source fits one of the organization's clinics.

Score (0–100) = 60 × share of the clinic's payers the source accepts
             + 40 × share of the source's patient populations that the
                    clinic's active service offerings serve.
Payers weigh more because a referral the clinic cannot bill is lost
whatever the match in care. A physician's payers and populations are those
of all the practices they work at. Unknown data scores zero and says so.
"""

from dataclasses import dataclass, field

from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Round

from clinics.models import Clinic, Population, ServiceOffering

from .models import Practice

PAYER_WEIGHT = 60
POPULATION_WEIGHT = 40
# A score from which a source is worth a visit soon: shown green, and the home page counts them.
STRONG_FIT = 70

PracticePayer = Practice.payers.through
PracticePopulation = Practice.populations.through


@dataclass(frozen=True)
class ClinicProfile:
    """What a clinic accepts and offers: the side of fit that stays fixed on a page."""

    clinic: Clinic
    payer_ids: frozenset[int]
    # population id -> names of the clinic's offerings that serve it
    offerings_by_population: dict[int, list[str]] = field(default_factory=dict)

    @property
    def population_ids(self) -> frozenset[int]:
        return frozenset(self.offerings_by_population)


def clinic_profile(clinic: Clinic) -> ClinicProfile:
    offerings_by_population: dict[int, list[str]] = {}
    rows = ServiceOffering.populations.through.objects.filter(
        serviceoffering__clinic=clinic, serviceoffering__is_active=True
    ).values_list("population_id", "serviceoffering__name")
    for population_id, offering_name in rows.order_by("serviceoffering__name"):
        offerings_by_population.setdefault(population_id, []).append(offering_name)
    return ClinicProfile(
        clinic=clinic,
        payer_ids=frozenset(clinic.payers.values_list("pk", flat=True)),
        offerings_by_population=offerings_by_population,
    )


def _distinct_count(through_model, practice_path: str, column: str, **filters) -> Coalesce:
    """Count of distinct `column` values over the practices reached by `practice_path`."""
    rows = (
        through_model.objects.filter(**{practice_path: OuterRef("pk")}, **filters)
        .order_by()
        .values(practice_path)
        .annotate(total=Count(column, distinct=True))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def with_fit(queryset: QuerySet, profile: ClinicProfile, *, practice_path: str) -> QuerySet:
    """Annotates fit_score and the counts that explain it, computed in SQL.

    `practice_path` leads from the through tables to the annotated model:
    "practice" for practices, "practice__affiliations__physician" for physicians.
    """
    queryset = queryset.annotate(
        fit_shared_payers=_distinct_count(
            PracticePayer, practice_path, "payer_id", payer_id__in=profile.payer_ids
        ),
        fit_populations=_distinct_count(PracticePopulation, practice_path, "population_id"),
        fit_matched_populations=_distinct_count(
            PracticePopulation, practice_path, "population_id", population_id__in=profile.population_ids
        ),
    )
    payer_part = (
        Cast(F("fit_shared_payers"), FloatField()) * PAYER_WEIGHT / len(profile.payer_ids)
        if profile.payer_ids
        else Value(0.0)
    )
    population_part = Case(
        When(fit_populations=0, then=Value(0.0)),
        default=Cast(F("fit_matched_populations"), FloatField())
        * POPULATION_WEIGHT
        / Cast(F("fit_populations"), FloatField()),
        output_field=FloatField(),
    )
    return queryset.annotate(
        fit_score=Cast(Round(payer_part + population_part), IntegerField()),
    )


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def fit_explanation(profile: ClinicProfile, *, shared_payers: int, populations: list[Population]) -> str:
    """One line in words.

    For example: “accepts 6 of your 8 payers; treats sports patients, and you offer Sports rehab”.
    """
    if profile.payer_ids:
        payer_text = f"accepts {shared_payers} of your {len(profile.payer_ids)} payers"
    else:
        payer_text = "your clinic has no payers recorded"
    if not populations:
        return f"{payer_text}; patient populations not recorded"
    matched = [p for p in populations if p.pk in profile.offerings_by_population]
    if not matched:
        treated = _join([p.adjective for p in populations])
        return f"{payer_text}; treats {treated} patients, which none of your services target"
    offerings = sorted({name for p in matched for name in profile.offerings_by_population[p.pk]})
    treated = _join([p.adjective for p in matched])
    return f"{payer_text}; treats {treated} patients, and you offer {_join(offerings)}"
