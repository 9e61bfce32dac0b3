import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from outcomes.models import CareNote, NoteKind, NpsResponse, NpsSurvey, OutcomeScore, Phase

from ..factories import OrganizationFactory, ReferralFactory


class CareNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareNote

    organization = factory.SubFactory(OrganizationFactory)
    referral = factory.SubFactory(ReferralFactory, organization=factory.SelfAttribute("..organization"))
    kind = NoteKind.EVALUATION
    noted_on = datetime.date(2026, 3, 2)
    findings = "Reduced knee flexion, antalgic gait."
    plan = "Twice a week for six weeks: strength, range of motion, gait."


class OutcomeScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutcomeScore

    organization = factory.SubFactory(OrganizationFactory)
    referral = factory.SubFactory(ReferralFactory, organization=factory.SelfAttribute("..organization"))
    instrument = "lefs"
    phase = Phase.INTAKE
    score = Decimal(40)
    taken_on = datetime.date(2026, 3, 2)


class NpsResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NpsResponse

    organization = factory.SubFactory(OrganizationFactory)
    referral = factory.SubFactory(ReferralFactory, organization=factory.SelfAttribute("..organization"))
    score = 9
    answered_on = datetime.date(2026, 4, 20)


class NpsSurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NpsSurvey

    organization = factory.SubFactory(OrganizationFactory)
    referral = factory.SubFactory(ReferralFactory, organization=factory.SelfAttribute("..organization"))
    created_at = factory.LazyFunction(timezone.now)
    last_link_at = factory.SelfAttribute("created_at")
