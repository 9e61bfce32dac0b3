"""Visits and payments typed by hand: the totals follow every write, corrections are recorded, roles hold."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.codes import parse_procedure_codes
from billing.models import BillingCorrection, CorrectionAction, Payment, PaymentKind, RowSource, Visit
from billing.services import PaymentFields, VisitFields, billing_row_remove, payment_save, visit_save
from clinics.models import Role
from referrals.models import Referral

from ..factories import PayerFactory, ReferralFactory
from .conftest import assert_totals_are_the_sums


def visit_fields(referral, **overrides) -> VisitFields:
    values = {
        "service_date": date(2026, 11, 2),
        "clinic": referral.clinic,
        "billed_amount": Decimal("180.00"),
    }
    return VisitFields(**{**values, **overrides})


def test_adding_changing_and_removing_visits_keeps_the_totals_the_sums(summit, summit_therapist):
    referral = ReferralFactory(organization=summit)

    first = visit_save(acting=summit_therapist, referral=referral, fields=visit_fields(referral))
    visit_save(
        acting=summit_therapist,
        referral=referral,
        fields=visit_fields(referral, service_date=date(2026, 11, 4), billed_amount=Decimal("95.50")),
    )
    assert_totals_are_the_sums(referral)
    assert Referral.objects.get(pk=referral.pk).billed_amount == Decimal("275.50")

    visit_save(
        acting=summit_therapist,
        referral=referral,
        visit=first,
        fields=visit_fields(referral, billed_amount=Decimal("200.00")),
    )
    assert Referral.objects.get(pk=referral.pk).billed_amount == Decimal("295.50")

    billing_row_remove(acting=summit_therapist, row=first)
    assert_totals_are_the_sums(referral)
    stored = Referral.objects.get(pk=referral.pk)
    assert (stored.visits_attended, stored.billed_amount) == (1, Decimal("95.50"))


def test_collected_counts_payments_and_refunds_not_adjustments(summit, summit_therapist):
    referral = ReferralFactory(organization=summit)
    payer = PayerFactory(organization=summit)
    for amount, kind in [
        ("120.00", PaymentKind.PAYER),
        ("30.00", PaymentKind.PATIENT),
        ("-20.00", PaymentKind.PAYER),
    ]:
        payment_save(
            acting=summit_therapist,
            referral=referral,
            fields=PaymentFields(paid_on=date(2026, 11, 20), amount=Decimal(amount), kind=kind, payer=payer),
        )
    adjustment = payment_save(
        acting=summit_therapist,
        referral=referral,
        fields=PaymentFields(
            paid_on=date(2026, 11, 20), amount=Decimal("-45.00"), kind=PaymentKind.ADJUSTMENT
        ),
    )

    assert Referral.objects.get(pk=referral.pk).collected_amount == Decimal("130.00")
    billing_row_remove(acting=summit_therapist, row=adjustment)
    assert_totals_are_the_sums(referral)


def test_each_correction_says_who_when_and_what_changed(summit, summit_therapist):
    referral = ReferralFactory(organization=summit)
    visit = visit_save(acting=summit_therapist, referral=referral, fields=visit_fields(referral))

    visit_save(
        acting=summit_therapist,
        referral=referral,
        visit=visit,
        fields=visit_fields(
            referral, billed_amount=Decimal("150.00"), procedure_codes=[{"code": "97110", "units": 2}]
        ),
    )
    billing_row_remove(acting=summit_therapist, row=visit)

    added, changed, removed = BillingCorrection.objects.filter(referral=referral)
    assert [c.action for c in (added, changed, removed)] == [
        CorrectionAction.ADDED,
        CorrectionAction.CHANGED,
        CorrectionAction.REMOVED,
    ]
    assert changed.changes == {"procedure_codes": ["", "97110x2"], "billed_amount": ["180.00", "150.00"]}
    assert changed.corrected_by == summit_therapist.user
    assert removed.changes["billed_amount"] == ["150.00", ""]


def test_a_correction_that_changes_nothing_records_nothing(summit, summit_therapist):
    referral = ReferralFactory(organization=summit)
    visit = visit_save(acting=summit_therapist, referral=referral, fields=visit_fields(referral))

    visit_save(acting=summit_therapist, referral=referral, visit=visit, fields=visit_fields(referral))

    assert BillingCorrection.objects.filter(referral=referral).count() == 1


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.LIAISON])
def test_only_therapists_and_admins_record_rows(summit, member_factory, role):
    referral = ReferralFactory(organization=summit)

    with pytest.raises(PermissionDenied):
        visit_save(acting=member_factory(summit, role), referral=referral, fields=visit_fields(referral))

    assert not Visit.objects.exists()


def test_another_organizations_staff_cannot_record_rows(summit, harbor_admin):
    referral = ReferralFactory(organization=summit)

    with pytest.raises(PermissionDenied):
        visit_save(acting=harbor_admin, referral=referral, fields=visit_fields(referral))


def test_a_row_cannot_name_another_organizations_clinic_or_payer(summit, harbor, summit_therapist):
    referral = ReferralFactory(organization=summit)
    foreign = ReferralFactory(organization=harbor)

    with pytest.raises(ValidationError):
        visit_save(
            acting=summit_therapist, referral=referral, fields=visit_fields(referral, clinic=foreign.clinic)
        )
    with pytest.raises(ValidationError):
        payment_save(
            acting=summit_therapist,
            referral=referral,
            fields=PaymentFields(
                paid_on=date(2026, 11, 2), amount=Decimal(1), payer=PayerFactory(organization=harbor)
            ),
        )
    assert Referral.objects.get(pk=referral.pk).visits_attended == 0


@pytest.mark.parametrize(
    ("typed", "codes"),
    [
        ("97110x2, 97140", [{"code": "97110", "units": 2}, {"code": "97140", "units": None}]),
        ("97161 g0283", [{"code": "97161", "units": None}, {"code": "G0283", "units": None}]),
        ("97530 x 3; 97110-GP", [{"code": "97530", "units": 3}, {"code": "97110", "units": None}]),
        ("", []),
    ],
)
def test_procedure_codes_are_read_with_their_units(typed, codes):
    assert parse_procedure_codes(typed) == codes


@pytest.mark.parametrize("typed", ["9711", "M54.50", "97110x0", "97110x200", "ABCDE"])
def test_what_is_not_a_procedure_code_is_refused(typed):
    with pytest.raises(ValidationError):
        parse_procedure_codes(typed)


# ---- Pages -----------------------------------------------------------------


def test_a_therapist_adds_a_visit_from_the_referral_page(client, summit, summit_therapist):
    referral = ReferralFactory(organization=summit)
    client.force_login(summit_therapist.user)

    response = client.post(
        reverse("billing:visit_create", args=[referral.pk]),
        {
            "service_date": "2026-11-02",
            "clinic": referral.clinic_id,
            "procedure_codes": "97161, 97110x2",
            "billed_amount": "210.00",
        },
    )

    assert response.status_code == 302
    visit = Visit.objects.get()
    assert (visit.source, visit.created_by, visit.procedure_codes[1]) == (
        RowSource.TYPED,
        summit_therapist.user,
        {"code": "97110", "units": 2},
    )
    assert Referral.objects.get(pk=referral.pk).billed_amount == Decimal("210.00")


def test_a_bad_code_comes_back_with_everything_typed(client, summit, summit_therapist):
    referral = ReferralFactory(organization=summit)
    client.force_login(summit_therapist.user)

    response = client.post(
        reverse("billing:visit_create", args=[referral.pk]),
        {
            "service_date": "2026-11-02",
            "clinic": referral.clinic_id,
            "procedure_codes": "97110, M54.50",
            "billed_amount": "210.00",
        },
    )

    assert response.status_code == 200
    assert "is not a CPT or HCPCS code" in response.content.decode()
    assert response.context["form"]["procedure_codes"].value() == "97110, M54.50"
    assert response.context["form"]["billed_amount"].value() == "210.00"
    assert not Visit.objects.exists()


def test_a_payment_is_corrected_and_removed_from_its_pages(client, summit, summit_admin):
    referral = ReferralFactory(organization=summit)
    client.force_login(summit_admin.user)
    client.post(
        reverse("billing:payment_create", args=[referral.pk]),
        {"paid_on": "2026-11-20", "amount": "$80.00".strip("$"), "kind": "payer", "reference": "EFT 1"},
    )
    payment = Payment.objects.get()

    client.post(
        reverse("billing:payment_edit", args=[payment.pk]),
        {"paid_on": "2026-11-21", "amount": "85.00", "kind": "payer", "reference": "EFT 1"},
    )
    assert Referral.objects.get(pk=referral.pk).collected_amount == Decimal("85.00")

    client.post(reverse("billing:payment_remove", args=[payment.pk]))
    assert not Payment.objects.exists()
    assert Referral.objects.get(pk=referral.pk).collected_amount == 0


def test_front_desk_sees_visits_but_not_amounts(client, summit, summit_front_desk, summit_therapist):
    referral = ReferralFactory(organization=summit)
    visit_save(
        acting=summit_therapist,
        referral=referral,
        fields=visit_fields(referral, billed_amount=Decimal("987.65")),
    )
    payment_save(
        acting=summit_therapist,
        referral=referral,
        fields=PaymentFields(paid_on=date(2026, 11, 20), amount=Decimal("432.10"), reference="EFT-77"),
    )

    client.force_login(summit_front_desk.user)
    desk_page = client.get(reverse("referrals:detail", args=[referral.pk])).content.decode()
    client.force_login(summit_therapist.user)
    care_page = client.get(reverse("referrals:detail", args=[referral.pk])).content.decode()

    assert "Nov 2, 2026" in desk_page
    assert "Nov 2, 2026" in care_page
    for amount in ("987.65", "432.10", "EFT-77"):
        assert amount not in desk_page
        assert amount in care_page
    assert "Add a visit" not in desk_page
    assert "Add a visit" in care_page


def test_the_page_shows_days_to_the_first_dated_visit_and_each_rows_source(client, summit, summit_therapist):
    referral = ReferralFactory(organization=summit, received_at="2026-10-28T15:00:00Z")
    visit_save(acting=summit_therapist, referral=referral, fields=visit_fields(referral))
    client.force_login(summit_therapist.user)

    page = client.get(reverse("referrals:detail", args=[referral.pk]))

    billing = next(p for p in page.context["panels"] if p.template == "billing/_referral_billing.html")
    assert billing.context["billing"].days_to_first_visit == 5
    assert "Typed" in page.content.decode()


def test_the_referral_page_runs_the_same_queries_for_one_row_or_many(client, summit, summit_therapist):
    referral = ReferralFactory(organization=summit)
    client.force_login(summit_therapist.user)
    url = reverse("referrals:detail", args=[referral.pk])

    def queries_for(rows: int) -> int:
        Visit.objects.all().delete()
        Payment.objects.all().delete()
        for day in range(1, rows + 1):
            visit = visit_fields(
                referral, service_date=date(2026, 11, day), payer=PayerFactory(organization=summit)
            )
            visit_save(acting=summit_therapist, referral=referral, fields=visit)
            payment_save(
                acting=summit_therapist,
                referral=referral,
                fields=PaymentFields(paid_on=date(2026, 11, day), amount=Decimal(50), payer=visit.payer),
            )
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    client.get(url)  # the organization's first page makes its settings rows
    assert queries_for(1) == queries_for(12)
