"""The demo's care notes, outcome scores and NPS: on every evaluated referral, distributed as care goes."""

from datetime import timedelta

from clinics.clock import clinic_zone, local_date, organization_today
from outcomes import demo as outcomes_demo
from outcomes.instruments import instrument
from outcomes.models import CareNote, NoteKind, NpsResponse, OutcomeScore, Phase
from outcomes.selectors import scorecard, scorecard_sources
from referrals.models import Referral, Status


def test_every_evaluated_referral_has_its_evaluation_and_every_discharged_one_its_discharge(demo):
    evaluated = set(CareNote.objects.filter(kind=NoteKind.EVALUATION).values_list("referral_id", flat=True))
    discharged = set(CareNote.objects.filter(kind=NoteKind.DISCHARGE).values_list("referral_id", flat=True))

    seen = Referral.objects.filter(status__in=[Status.EVALUATED, Status.IN_CARE, Status.DISCHARGED])
    assert set(seen.values_list("pk", flat=True)) <= evaluated
    assert set(seen.filter(status=Status.DISCHARGED).values_list("pk", flat=True)) == discharged
    assert (
        set(OutcomeScore.objects.filter(phase=Phase.DISCHARGE).values_list("referral_id", flat=True))
        == discharged
    )
    assert not CareNote.objects.filter(referral__status__in=[Status.RECEIVED, Status.CONTACTED]).exists()


def test_scores_are_in_range_and_notes_inside_the_episode(demo):
    for code, score in OutcomeScore.objects.values_list("instrument", "score"):
        instrument(code).check_score(score)
    for note in CareNote.objects.select_related("referral__clinic", "organization"):
        received_on = local_date(note.referral.received_at, clinic_zone(note.referral.clinic))
        assert received_on <= note.noted_on <= organization_today(note.organization)
    for organization in demo.values():
        today = organization_today(organization)
        assert not NpsResponse.objects.filter(organization=organization, answered_on__gt=today).exists()


def test_most_patients_improve_a_share_fall_short_and_some_measures_have_no_mcid(demo):
    for organization in demo.values():
        today = organization_today(organization)
        card = scorecard(organization=organization, since=today - timedelta(days=600), until=today)

        assert card.patients_with_outcomes > 300
        assert 0.55 < card.share_reached < 0.85
        codes = {row.instrument.code for row in card.outcomes}
        assert {"lefs", "odi", "quickdash", "nprs"} <= codes
        assert {row.instrument.code for row in card.outcomes if not row.judged} >= {"koos_jr", "foto"}
        assert all(row.mean_improvement > 0 for row in card.outcomes)
        assert card.nps.answers > 0.5 * card.discharged
        assert 20 < card.nps.score < 70
        assert card.visits_per_episode is not None
        assert card.median_days_to_first_visit is not None


def test_quickdash_is_typed_item_by_item_in_the_demo(demo):
    by_items = OutcomeScore.objects.filter(instrument="quickdash").exclude(items=[])

    assert by_items.exists()
    for row in by_items[:50]:
        assert instrument("quickdash").score_from_items(row.items) == row.score


def test_the_busiest_physicians_scorecards_show_computed_figures(demo):
    summit = demo["summit"]
    today = organization_today(summit)
    busiest = scorecard_sources(organization=summit, since=today - timedelta(days=365), until=today)[:5]

    for row in busiest:
        card = scorecard(
            organization=summit, since=today - timedelta(days=365), until=today, physician_id=row.physician.pk
        )
        assert card.received == row.received > 0
        assert card.outcomes
        assert card.nps.answers


def test_seeding_again_changes_nothing(demo):
    before = (CareNote.objects.count(), OutcomeScore.objects.count(), NpsResponse.objects.count())

    outcomes_demo.seed()

    assert (CareNote.objects.count(), OutcomeScore.objects.count(), NpsResponse.objects.count()) == before
