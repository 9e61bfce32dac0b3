"""A merge moves every row that points at the record merged away, hidden relations included.

ROWS names, for each model records of which are merged, one way to make a
row of every relation that points at it. The first test compares that list
with the model registry (`get_fields(include_hidden=True)`: foreign keys
declared with `related_name="+"`, one-to-ones, many-to-many tables), so a
relation added later fails here until it is given a row, and the second then
proves the merge moves it. Practices have no merge page yet; the row mover
physician_merge uses is model-agnostic, and is proved on them too.
"""

import datetime

import pytest
from django.db.models import ForeignObjectRel, Model
from django.urls import reverse
from django.utils import timezone

from clinics.history import is_history_model
from clinics.models import Population
from outreach.models import FlagKind
from physicians.models import Affiliation, Physician, Practice, StageChange
from physicians.services import physician_merge, related_rows_move
from referrals.models import PlanOfCare

from ..factories import (
    AffiliationFactory,
    FlagFactory,
    GatekeeperFactory,
    PayerFactory,
    PhysicianFactory,
    PlanOfCareFactory,
    PracticeFactory,
    ReferralFactFactory,
    ReferralFactory,
    TouchDayFactory,
    TouchFactory,
)
from ..letters.factories import LetterFactory


def population(number: int) -> Population:
    return Population.objects.order_by("code")[number]


# (model holding the relation, its field) → makes a row of it pointing at a
# record; `number` is 0 for the record kept and 1 for the duplicate. The two
# records' rows never repeat each other on an unconditional unique key (the
# same practice twice: see the clash tests below) but do meet on every
# conditional one: both have a primary practice and an open flag of one kind.
ROWS = {
    Physician: {
        ("physicians.Affiliation", "physician"): lambda physician, number: AffiliationFactory(
            organization=physician.organization, physician=physician, is_primary=True
        ),
        ("physicians.StageChange", "physician"): lambda physician, number: StageChange.objects.create(
            organization=physician.organization,
            physician=physician,
            to_stage="first_impression",
            changed_at=timezone.now(),
        ),
        ("referrals.Referral", "physician"): lambda physician, number: ReferralFactory(
            organization=physician.organization, physician=physician
        ),
        # Declared with related_name="+": Physician._meta.related_objects leaves it out.
        ("referrals.PlanOfCare", "certifier"): lambda physician, number: PlanOfCareFactory(
            organization=physician.organization, certifier=physician
        ),
        ("outreach.Touch", "physician"): lambda physician, number: TouchFactory(
            organization=physician.organization, physician=physician
        ),
        ("letters.Letter", "physician"): lambda physician, number: LetterFactory(
            organization=physician.organization,
            physician=physician,
            referral=ReferralFactory(organization=physician.organization, physician=physician),
        ),
        ("outreach.Flag", "physician"): lambda physician, number: FlagFactory(
            organization=physician.organization, physician=physician, kind=FlagKind.CONTACT_LAPSED
        ),
        # The dashboards' rollups follow the physician's referrals and touches.
        ("analytics.ReferralFact", "physician"): lambda physician, number: ReferralFactFactory(
            organization=physician.organization, physician=physician
        ),
        ("analytics.TouchDay", "physician"): lambda physician, number: TouchDayFactory(
            organization=physician.organization, physician=physician
        ),
    },
    Practice: {
        ("physicians.Affiliation", "practice"): lambda practice, number: AffiliationFactory(
            organization=practice.organization, practice=practice
        ),
        ("physicians.Physician", "practices"): lambda practice, number: (
            AffiliationFactory(organization=practice.organization, practice=practice).physician
        ),
        ("physicians.Gatekeeper", "practice"): lambda practice, number: GatekeeperFactory(
            organization=practice.organization, practice=practice
        ),
        ("outreach.Touch", "practice"): lambda practice, number: TouchFactory(
            organization=practice.organization, physician=None, practice=practice
        ),
        # The attribution taken at intake: merged practices keep their referrals counted.
        ("referrals.Referral", "referring_practice"): lambda practice, number: ReferralFactory(
            organization=practice.organization, referring_practice=practice
        ),
        # The tables of Practice.populations and Practice.payers, which no model declares.
        ("analytics.ReferralFact", "practice"): lambda practice, number: ReferralFactFactory(
            organization=practice.organization, practice=practice
        ),
        ("analytics.TouchDay", "practice"): lambda practice, number: TouchDayFactory(
            organization=practice.organization, practice=practice
        ),
        ("physicians.Practice_populations", "practice"): lambda practice, number: (
            Practice.populations.through.objects.create(practice=practice, population=population(number))
        ),
        ("physicians.Practice_payers", "practice"): lambda practice, number: (
            Practice.payers.through.objects.create(
                practice=practice, payer=PayerFactory(organization=practice.organization)
            )
        ),
    },
}


def relations_to(model: type[Model]) -> set[tuple[str, str]]:
    """Every relation that points at `model`, hidden ones included: (model holding it, its field)."""
    return {
        (field.related_model._meta.label, field.field.name)
        for field in model._meta.get_fields(include_hidden=True)
        # Change history is never rewritten: a merge leaves it as it was.
        if isinstance(field, ForeignObjectRel) and not is_history_model(field.related_model)
    }


def points_at(row: Model, field_name: str, record: Model) -> bool:
    field = type(row)._meta.get_field(field_name)
    if field.many_to_many:
        return getattr(row, field_name).filter(pk=record.pk).exists()
    return type(row)._base_manager.filter(pk=row.pk, **{field_name: record}).exists()


def merge_physicians(keep: Physician, duplicate: Physician) -> None:
    physician_merge(organization=keep.organization, keep=keep, duplicate=duplicate)


def merge_practices(keep: Practice, duplicate: Practice) -> None:
    related_rows_move(keep=keep, duplicate=duplicate)
    duplicate.delete()


MERGES = [
    pytest.param(Physician, PhysicianFactory, merge_physicians, id="physician"),
    pytest.param(Practice, PracticeFactory, merge_practices, id="practice"),
]


@pytest.mark.parametrize("model", ROWS, ids=lambda model: model.__name__.lower())
def test_every_relation_pointing_at_a_merged_model_is_covered(model):
    assert relations_to(model) == set(ROWS[model]), (
        f"A relation to {model.__name__} was added or removed: give it a row in ROWS, "
        "so the merge test below proves the merge moves it."
    )


@pytest.mark.parametrize(("model", "factory", "merge"), MERGES)
def test_a_merge_moves_the_rows_of_every_relation(summit, model, factory, merge):
    keep, duplicate = factory(organization=summit), factory(organization=summit)
    kept_rows = {relation: make(keep, 0) for relation, make in ROWS[model].items()}
    moved_rows = {relation: make(duplicate, 1) for relation, make in ROWS[model].items()}

    merge(keep, duplicate)

    assert not model.objects.filter(pk=duplicate.pk).exists()
    not_moved = [
        relation
        for relation in ROWS[model]
        if not (
            points_at(kept_rows[relation], relation[1], keep)
            and points_at(moved_rows[relation], relation[1], keep)
        )
    ]
    assert not_moved == []


def test_merging_a_physician_who_certified_a_plan_of_care_moves_the_plan(admin_client, summit):
    keep = PhysicianFactory(organization=summit)
    duplicate = PhysicianFactory(organization=summit, npi="")
    # The duplicate signed the plan of a patient another physician referred.
    plan = PlanOfCareFactory(organization=summit, certifier=duplicate, signed_on=datetime.date(2026, 3, 2))

    response = admin_client.post(reverse("physicians:merge", args=[keep.pk]), {"duplicate": duplicate.pk})

    assert response.status_code == 302
    assert not Physician.objects.filter(pk=duplicate.pk).exists()
    plan.refresh_from_db()
    assert plan.certifier == keep
    assert PlanOfCare.objects.filter(certifier=keep).count() == 1


def test_rows_the_kept_practice_already_has_are_dropped_not_repeated(summit):
    keep, duplicate = PracticeFactory(organization=summit), PracticeFactory(organization=summit)
    payer = PayerFactory(organization=summit)
    keep.populations.set([population(0)])
    keep.payers.set([payer])
    duplicate.populations.set([population(0), population(1)])
    duplicate.payers.set([payer])
    works_at_both = AffiliationFactory(organization=summit, practice=keep).physician
    AffiliationFactory(organization=summit, practice=duplicate, physician=works_at_both, is_primary=False)

    related_rows_move(keep=keep, duplicate=duplicate)
    duplicate.delete()

    assert list(keep.populations.order_by("code")) == [population(0), population(1)]
    assert list(keep.payers.all()) == [payer]
    assert list(
        Affiliation.objects.filter(physician=works_at_both).values_list("practice", "is_primary")
    ) == [(keep.pk, True)]
