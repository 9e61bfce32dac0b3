"""An organization with at least one row in every table of the data export, built with the suite's factories.

The export's isolation test builds two of these and proves that neither's
export holds the other's rows. A table registered without a row here fails
that test: add how to make its row below.
"""

import itertools

from django.utils import timezone

from announcements.models import AnnouncementTouch
from audit.models import AccessKind
from audit.selectors import audit_settings_get
from audit.services import Access, access_record
from billing.models import BillingCorrection, ChargeLine, ColumnMapping
from clinics.models import (
    ExportStatus,
    Membership,
    Organization,
    OrganizationExport,
    Population,
    Role,
    SecondFactorReset,
    SecuritySettings,
)
from digests.services import digest_preference_for
from letters.models import LetterOpening, LetterSettings
from outbox.models import EmailSuppression
from outreach.models import OutreachSettings
from physicians.models import StageChange
from referrals.models import (
    AppointmentChange,
    ContactAttempt,
    PatientCorrection,
    PatientDetailsRemoval,
    ReferralSettings,
    StatusChange,
)

from ..factories import (
    AffiliationFactory,
    BillingImportFactory,
    CalendarFeedFactory,
    ClinicFactory,
    FlagFactory,
    FollowUpFactory,
    GatekeeperFactory,
    MembershipFactory,
    NppesImportFactory,
    PayerFactory,
    PaymentFactory,
    PhysicianFactory,
    PlanOfCareFactory,
    PracticeFactory,
    ReferralDocumentFactory,
    ReferralExportFactory,
    ReferralFactory,
    ReviewRowFactory,
    ServiceAnnouncementFactory,
    ServiceOfferingFactory,
    TouchFactory,
    VisitFactory,
)
from ..letters.factories import LetterFactory
from ..outbox.factories import OutboundEmailFactory
from ..outcomes.factories import CareNoteFactory, NpsResponseFactory, NpsSurveyFactory, OutcomeScoreFactory

_serial = itertools.count()


def fill_every_table(organization: Organization, *, patient_last_name: str = "Patient") -> None:
    """Adds one more row to every exported table of `organization` (settings rows: the one row)."""
    n = next(_serial)
    now = timezone.now()
    population, _ = Population.objects.get_or_create(
        code="sports", defaults={"name": "Sports", "adjective": "sports"}
    )
    clinic = ClinicFactory(organization=organization)
    payer = PayerFactory(organization=organization)
    clinic.payers.add(payer)
    admin: Membership = MembershipFactory.create(
        organization=organization, role=Role.ADMIN, home_clinic=clinic
    )
    user = admin.user
    digest_preference_for(membership=admin)
    SecuritySettings.objects.get_or_create(organization=organization)
    SecondFactorReset.objects.create(organization=organization, user=user, reset_by=user, reset_at=now)
    offering = ServiceOfferingFactory(organization=organization, clinic=clinic)
    offering.populations.add(population)
    # An earlier export, long gone: one under way would stand in for a new request.
    OrganizationExport.objects.create(
        organization=organization, requested_by=user, status=ExportStatus.EXPIRED, size=1234, expires_at=now
    )

    OutboundEmailFactory(organization=organization)
    EmailSuppression.objects.create(organization=organization, address=f"gone{n}@example.com")

    practice = PracticeFactory(organization=organization)
    practice.populations.add(population)
    practice.payers.add(payer)
    physician = PhysicianFactory(organization=organization, owner=user)
    AffiliationFactory(organization=organization, physician=physician, practice=practice)
    gatekeeper = GatekeeperFactory(organization=organization, practice=practice)
    StageChange.objects.create(
        organization=organization,
        physician=physician,
        to_stage="building_trust",
        changed_by=user,
        changed_at=now,
    )
    NppesImportFactory(organization=organization, created_by=user)

    referral = ReferralFactory(
        organization=organization,
        clinic=clinic,
        physician=physician,
        payer=payer,
        therapist=user,
        patient_last_name=patient_last_name,
    )
    StatusChange.objects.create(
        organization=organization, referral=referral, to_status="received", changed_by=user, changed_at=now
    )
    AppointmentChange.objects.create(
        organization=organization,
        referral=referral,
        action="booked",
        starts_at=now,
        clinic=clinic,
        changed_by=user,
        changed_at=now,
    )
    ContactAttempt.objects.create(
        organization=organization, referral=referral, outcome="no_answer", attempted_by=user, attempted_at=now
    )
    PatientCorrection.objects.create(
        organization=organization,
        referral=referral,
        fields=["patient_phone"],
        corrected_by=user,
        corrected_at=now,
    )
    ReferralDocumentFactory(organization=organization, referral=referral, added_by=user)
    PlanOfCareFactory(organization=organization, referral=referral)
    ReferralSettings.objects.get_or_create(organization=organization)
    ReferralExportFactory(organization=organization, requested_by=user)
    audit_settings_get(organization=organization)
    access_record(
        organization=organization,
        access=Access(
            kind=AccessKind.PAGE,
            user=user,
            path_name="referrals:detail",
            referral_ids=frozenset({referral.pk}),
        ),
    )
    PatientDetailsRemoval.objects.create(
        organization=organization,
        removed_at=now,
        removed_by=user,
        closed_before=now.date(),
        referral_ids=[referral.pk],
    )

    billing_import = BillingImportFactory(organization=organization, created_by=user)
    visit = VisitFactory(organization=organization, referral=referral, payer=payer, therapist=user)
    ChargeLine.objects.create(
        organization=organization,
        visit=visit,
        row_key=f"line:{n}",
        row_fingerprint="f" * 64,
        service_date=visit.service_date,
        clinic=clinic,
        payer=payer,
    )
    PaymentFactory(organization=organization, referral=referral, payer=payer, import_run=billing_import)
    BillingCorrection.objects.create(
        organization=organization,
        referral=referral,
        row_kind="visit",
        row_id=visit.pk,
        action="changed",
        changes={"billed_amount": ["100.00", "120.00"]},
        corrected_by=user,
        corrected_at=now,
    )
    ColumnMapping.objects.create(
        organization=organization,
        kind="visits",
        header_signature=f"{n:064x}",
        mapping={"service_date": "DOS"},
        saved_by=user,
        saved_at=now,
    )
    ReviewRowFactory(organization=organization, import_run=billing_import, referral=referral)

    note = CareNoteFactory(organization=organization, referral=referral, therapist=user)
    OutcomeScoreFactory(organization=organization, referral=referral, care_note=note, recorded_by=user)
    NpsResponseFactory(organization=organization, referral=referral, recorded_by=user)
    NpsSurveyFactory(organization=organization, referral=referral, created_by=user)

    touch = TouchFactory(
        organization=organization, physician=physician, practice=practice, gatekeeper=gatekeeper
    )
    FollowUpFactory(organization=organization, touch=touch, owner=user)
    FlagFactory(organization=organization, physician=physician)
    OutreachSettings.objects.get_or_create(organization=organization)
    CalendarFeedFactory(organization=organization, user=user)

    announcement = ServiceAnnouncementFactory(organization=organization, offering=offering, created_by=user)
    announcement.populations.add(population)
    AnnouncementTouch.objects.create(
        organization=organization,
        announcement=announcement,
        touch=TouchFactory(organization=organization, physician=physician),
    )

    letter = LetterFactory(organization=organization, referral=referral, therapist=user)
    LetterOpening.objects.create(organization=organization, letter=letter, ip_address="203.0.113.7")
    LetterSettings.objects.get_or_create(organization=organization)
