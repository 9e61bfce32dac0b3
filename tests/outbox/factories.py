import factory
from django.utils import timezone

from outbox.models import OutboundEmail

from ..factories import OrganizationFactory


class OutboundEmailFactory(factory.django.DjangoModelFactory):
    """A pending email, as email_enqueue would have queued it."""

    class Meta:
        model = OutboundEmail

    organization = factory.SubFactory(OrganizationFactory)
    kind = "service_announcement"
    idempotency_key = factory.Sequence(lambda n: f"test-email:{n}")
    to_address = factory.Sequence(lambda n: f"physician{n}@example.com")
    subject = "New: vestibular rehabilitation"
    body_text = "Our Downtown clinic now treats dizziness and balance problems."
    body_html = "<p>Our Downtown clinic now treats <strong>dizziness</strong> and balance problems.</p>"
    next_attempt_at = factory.LazyFunction(timezone.now)
