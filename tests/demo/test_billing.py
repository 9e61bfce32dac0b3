"""The demo's visits and payments: dated inside each episode, summing to its planned totals."""

from django.db.models import Min

from billing import demo as billing_demo
from billing.models import Payment, RowSource, Visit
from clinics.clock import clinic_zone, local_date, organization_today
from referrals.models import Referral

from ..billing.conftest import assert_totals_are_the_sums


def test_every_referral_with_visits_has_them_dated_and_its_totals_are_their_sums(demo):
    referrals = list(Referral.objects.filter(visits_attended__gt=0).select_related("clinic", "organization"))
    assert len(referrals) > 100
    assert_totals_are_the_sums(*referrals)
    first_visits = dict(Visit.objects.values_list("referral_id").annotate(first=Min("service_date")))
    for referral in referrals:
        received_on = local_date(referral.received_at, clinic_zone(referral.clinic))
        assert received_on <= first_visits[referral.pk] <= organization_today(referral.organization)
        assert referral.patient_account_number
    assert not Visit.objects.exclude(source=RowSource.TYPED).exists()
    today = max(organization_today(organization) for organization in demo.values())
    assert not Payment.objects.filter(paid_on__gt=today).exists()


def test_seeding_again_changes_nothing(demo):
    before = (Visit.objects.count(), Payment.objects.count())

    billing_demo.seed()

    assert (Visit.objects.count(), Payment.objects.count()) == before
