import datetime

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from analytics.models import ReferralFact, TouchDay
from announcements.models import ServiceAnnouncement
from billing.models import BillingImport, Payment, ReviewRow, Visit
from clinics.models import Clinic, Membership, Organization, Payer, PayerCategory, Role, ServiceOffering
from outreach.models import CalendarFeed, Flag, FlagKind, FlagSeverity, FollowUp, Touch, TouchKind
from physicians.identifiers import npi_check_digit
from physicians.models import Affiliation, Gatekeeper, GatekeeperRole, NppesImport, Physician, Practice
from referrals.models import PlanOfCare, Referral, ReferralDocument, ReferralExport
from referrals.services import FirstAppointment, referral_numbers_take

TEST_PASSWORD = "correct-horse-battery-staple"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Clinic Group {n}")
    slug = factory.Sequence(lambda n: f"group-{n}")


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Clinic {n}")
    city = "Denver"
    state = "CO"
    timezone = "America/Denver"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.THERAPIST


class PayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payer

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Payer {n}")
    category = PayerCategory.COMMERCIAL


class ServiceOfferingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceOffering

    organization = factory.SubFactory(OrganizationFactory)
    clinic = factory.SubFactory(ClinicFactory, organization=factory.SelfAttribute("..organization"))
    name = factory.Sequence(lambda n: f"Program {n}")


def valid_npi(n: int) -> str:
    first_nine = f"1{n:08d}"
    return first_nine + str(npi_check_digit(first_nine))


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practice

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Practice {n}")
    address_line1 = factory.Sequence(lambda n: f"{n + 100} Main St")
    city = "Denver"
    state = "CO"
    postal_code = "80202"


class PhysicianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Physician

    organization = factory.SubFactory(OrganizationFactory)
    npi = factory.Sequence(valid_npi)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    credential = "MD"
    taxonomy_code = "207X00000X"


class AffiliationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Affiliation

    organization = factory.SubFactory(OrganizationFactory)
    physician = factory.SubFactory(PhysicianFactory, organization=factory.SelfAttribute("..organization"))
    practice = factory.SubFactory(PracticeFactory, organization=factory.SelfAttribute("..organization"))
    is_primary = True


class GatekeeperFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gatekeeper

    organization = factory.SubFactory(OrganizationFactory)
    practice = factory.SubFactory(PracticeFactory, organization=factory.SelfAttribute("..organization"))
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = GatekeeperRole.REFERRAL_COORDINATOR


class NppesImportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NppesImport

    organization = factory.SubFactory(OrganizationFactory)
    file = factory.django.FileField(filename="npidata.csv", data=b"NPI\n")
    original_name = "npidata.csv"


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referral

    organization = factory.SubFactory(OrganizationFactory)
    clinic = factory.SubFactory(ClinicFactory, organization=factory.SelfAttribute("..organization"))
    physician = factory.SubFactory(PhysicianFactory, organization=factory.SelfAttribute("..organization"))
    patient_first_name = "Pat"
    patient_last_name = factory.Sequence(lambda n: f"Patient{n}")
    patient_birth_date = datetime.date(1970, 5, 1)
    patient_phone = "303-555-0100"
    received_at = factory.LazyFunction(timezone.now)
    # Taken from the organization's counter, as intake takes it.
    number = factory.LazyAttribute(
        lambda referral: referral_numbers_take(organization=referral.organization, count=1)[0]
    )


class VisitFactory(factory.django.DjangoModelFactory):
    """A visit row as it is stored; tests of the totals write through billing.services instead."""

    class Meta:
        model = Visit

    organization = factory.SubFactory(OrganizationFactory)
    referral = factory.SubFactory(ReferralFactory, organization=factory.SelfAttribute("..organization"))
    clinic = factory.SelfAttribute("referral.clinic")
    service_date = factory.LazyFunction(timezone.localdate)
    billed_amount = 120


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    organization = factory.SubFactory(OrganizationFactory)
    referral = factory.SubFactory(ReferralFactory, organization=factory.SelfAttribute("..organization"))
    paid_on = factory.LazyFunction(timezone.localdate)
    amount = 80


class BillingImportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingImport

    organization = factory.SubFactory(OrganizationFactory)
    kind = "visits"
    original_name = "charges.csv"
    file = factory.django.FileField(
        filename="charges.csv", data=b"DOS,Acct #,Charge\r\n11/03/2026,A1,100\r\n"
    )
    mapping = factory.LazyFunction(
        lambda: {"service_date": "DOS", "account_number": "Acct #", "billed_amount": "Charge"}
    )
    mapped = True


class ReviewRowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewRow

    organization = factory.SubFactory(OrganizationFactory)
    import_run = factory.SubFactory(
        BillingImportFactory, organization=factory.SelfAttribute("..organization")
    )
    kind = "visits"
    line_number = 2
    row_key = factory.Sequence(lambda n: f"id:L{n}")
    values = factory.LazyFunction(
        lambda: {"line": 2, "day": "2026-11-03", "amount": "100.00", "fingerprint": "x"}
    )
    reason = "No referral has this account number, and the row names no patient to look for."


class ReferralDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferralDocument

    organization = factory.SubFactory(OrganizationFactory)
    referral = factory.SubFactory(ReferralFactory, organization=factory.SelfAttribute("..organization"))
    content_type = "application/pdf"
    file = factory.django.FileField(filename="order.pdf", data=b"%PDF-1.7\n")
    size = 9
    added_at = factory.LazyFunction(timezone.now)


class ReferralExportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferralExport

    organization = factory.SubFactory(OrganizationFactory)
    filters_description = "All referrals"
    time_zone = "America/Denver"
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(hours=24))


class PlanOfCareFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanOfCare

    organization = factory.SubFactory(OrganizationFactory)
    referral = factory.SubFactory(ReferralFactory, organization=factory.SelfAttribute("..organization"))
    certifier = factory.SelfAttribute("referral.physician")
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=10))
    ends_on = factory.LazyAttribute(lambda plan: plan.starts_on + datetime.timedelta(days=89))


class TouchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touch

    organization = factory.SubFactory(OrganizationFactory)
    physician = factory.SubFactory(PhysicianFactory, organization=factory.SelfAttribute("..organization"))
    kind = TouchKind.OFFICE_VISIT
    occurred_at = factory.LazyFunction(timezone.now)


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    organization = factory.SubFactory(OrganizationFactory)
    touch = factory.SubFactory(TouchFactory, organization=factory.SelfAttribute("..organization"))
    owner = factory.SubFactory(UserFactory)
    due_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=7))
    note = "Bring the new program flyer"


class CalendarFeedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarFeed

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    token_digest = factory.Sequence(lambda n: f"{n:064x}")


class FlagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Flag

    organization = factory.SubFactory(OrganizationFactory)
    physician = factory.SubFactory(PhysicianFactory, organization=factory.SelfAttribute("..organization"))
    kind = FlagKind.CONTACT_LAPSED
    severity = FlagSeverity.OVERDUE
    opened_at = factory.LazyFunction(timezone.now)


class ServiceAnnouncementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceAnnouncement

    organization = factory.SubFactory(OrganizationFactory)
    offering = factory.SubFactory(
        ServiceOfferingFactory, organization=factory.SelfAttribute("..organization")
    )
    subject = "New: vestibular rehabilitation"
    message = "Our Downtown clinic now treats dizziness and balance problems."
    request_key = factory.Faker("uuid4")


def first_appointment(referral: Referral, *, after: datetime.timedelta = datetime.timedelta(days=3)):
    """An evaluation booked `after` the referral was received, at its clinic: what scheduling needs."""
    return FirstAppointment(starts_at=referral.received_at + after, clinic=referral.clinic)


class ReferralFactFactory(factory.django.DjangoModelFactory):
    """A rollup row as it is stored; the rollups' own tests write through the services instead."""

    class Meta:
        model = ReferralFact

    organization = factory.SubFactory(OrganizationFactory)
    referral = factory.SubFactory(ReferralFactory, organization=factory.SelfAttribute("..organization"))
    received_at = factory.SelfAttribute("referral.received_at")
    received_on = factory.LazyAttribute(lambda fact: fact.received_at.date())
    clinic = factory.SelfAttribute("referral.clinic")
    source_type = "physician"
    physician = factory.SelfAttribute("referral.physician")
    status = "received"
    contact_due_at = factory.SelfAttribute("referral.received_at")


class TouchDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TouchDay

    organization = factory.SubFactory(OrganizationFactory)
    day = factory.LazyFunction(timezone.localdate)
    kind = TouchKind.CALL
    touches = 1
