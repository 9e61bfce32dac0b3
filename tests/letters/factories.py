import datetime

import factory
from django.utils import timezone

from letters.models import Delivery, Letter, LetterKind, LetterReferral, LetterStatus

from ..factories import OrganizationFactory, ReferralFactory


class LetterFactory(factory.django.DjangoModelFactory):
    """A letter as stored, about its referral; tests of composition go through the sweep instead."""

    class Meta:
        model = Letter
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    referral = factory.SubFactory(ReferralFactory, organization=factory.SelfAttribute("..organization"))
    physician = factory.SelfAttribute("referral.physician")
    kind = LetterKind.EVALUATION
    key = factory.LazyAttribute(lambda letter: f"{letter.kind}:{letter.referral.pk}")
    period_start = datetime.date(2026, 3, 2)
    period_end = datetime.date(2026, 3, 2)
    status = LetterStatus.TO_SEND
    delivery = Delivery.PRINT
    channel = "fax"
    content = factory.LazyAttribute(
        lambda letter: {
            "patient": {
                "number": letter.referral.number,
                "name": f"{letter.referral.patient_first_name} {letter.referral.patient_last_name}",
                "initials": "P. P.",
                "birth_date": "May 1, 1970",
                "referred_on": "Mar. 1, 2026",
                "status": "Evaluated",
                "visits": 1,
                "diagnoses": [],
            },
            "clinic": {"name": letter.referral.clinic.name, "address": "", "phone": ""},
            "noted_on": "Mar. 2, 2026",
            "outcomes": [],
            "nps": None,
        }
    )
    findings = "Reduced knee flexion."
    plan = "Twice a week for six weeks."
    due_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def about(letter, create, extracted, **kwargs):
        if create:
            LetterReferral.objects.create(
                organization=letter.organization, letter=letter, referral=letter.referral
            )
