"""Walks every URL pattern and proves one organization never reaches another's objects.

For each pattern that takes an object id, an admin of Harbor requests Summit's
object (GET and POST) and must get 404, exactly as for an id that does not
exist. A new URL keyword with no entry in OBJECT_MAKERS fails this test, so
every new view is covered the day it is added.
"""

import datetime

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from clinics.models import Organization, OrganizationExport
from referrals.models import PlanOfCare, ReferralDocument

from .factories import (
    BillingImportFactory,
    ClinicFactory,
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
from .letters.factories import LetterFactory
from .outbox.factories import OutboundEmailFactory
from .outcomes.factories import OutcomeScoreFactory

# How to make an object of an organization for each URL keyword.
OBJECT_MAKERS = {
    "clinic_id": lambda organization: ClinicFactory(organization=organization).pk,
    "membership_id": lambda organization: MembershipFactory(organization=organization).pk,
    "organization_id": lambda organization: organization.pk,
    "payer_id": lambda organization: PayerFactory(organization=organization).pk,
    "offering_id": lambda organization: ServiceOfferingFactory(organization=organization).pk,
    "physician_id": lambda organization: PhysicianFactory(organization=organization).pk,
    "practice_id": lambda organization: PracticeFactory(organization=organization).pk,
    "gatekeeper_id": lambda organization: GatekeeperFactory(organization=organization).pk,
    "import_id": lambda organization: NppesImportFactory(organization=organization).pk,
    "referral_id": lambda organization: ReferralFactory(organization=organization).pk,
    "document_id": lambda organization: ReferralDocumentFactory(organization=organization).pk,
    "plan_id": lambda organization: PlanOfCareFactory(organization=organization).pk,
    "export_id": lambda organization: ReferralExportFactory(organization=organization).pk,
    "organization_export_id": lambda organization: (
        OrganizationExport.objects.create(
            organization=organization, expires_at=timezone.now() + datetime.timedelta(hours=24)
        ).pk
    ),
    "touch_id": lambda organization: TouchFactory(organization=organization).pk,
    "followup_id": lambda organization: FollowUpFactory(organization=organization).pk,
    "announcement_id": lambda organization: ServiceAnnouncementFactory(organization=organization).pk,
    "email_id": lambda organization: OutboundEmailFactory(organization=organization).pk,
    "visit_id": lambda organization: VisitFactory(organization=organization).pk,
    "payment_id": lambda organization: PaymentFactory(organization=organization).pk,
    "billing_import_id": lambda organization: BillingImportFactory(organization=organization).pk,
    "review_id": lambda organization: ReviewRowFactory(organization=organization).pk,
    "letter_id": lambda organization: LetterFactory(organization=organization).pk,
    "score_id": lambda organization: OutcomeScoreFactory(organization=organization).pk,
}


def url_kwargs(keywords, organization) -> dict:
    """Objects for a URL's keywords, consistent with each other (a plan and its own referral)."""
    kwargs = {keyword: OBJECT_MAKERS[keyword](organization) for keyword in keywords}
    if "plan_id" in kwargs and "referral_id" in kwargs:
        kwargs["referral_id"] = PlanOfCare.objects.get(pk=kwargs["plan_id"]).referral_id
    if "document_id" in kwargs and "referral_id" in kwargs:
        kwargs["referral_id"] = ReferralDocument.objects.get(pk=kwargs["document_id"]).referral_id
    return kwargs


# URLs that take arguments but name no organization's object.
NOT_OBJECT_URLS = {
    "password_reset_confirm": "a signed one-time token, checked by Django",
    "outreach:calendar_feed": "a secret, revocable calendar address; tested in tests/outreach",
    "outbox:unsubscribe": "a random per-message token; tested in tests/outbox",
    "letters:read": "a signed, expiring link to one letter; tested in tests/letters",
    "outcomes:survey": "a signed, expiring, single-use survey link; tested in tests/outcomes",
}
# Namespaces outside tenancy.
NOT_TENANT_NAMESPACES = {
    "admin": "Django admin: for superusers, who operate the whole deployment",
}


def iter_patterns(resolver=None, namespace=None):
    """Yields (qualified name or None, pattern) for every URL pattern Rapport serves."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in NOT_TENANT_NAMESPACES:
                continue
            yield from iter_patterns(entry, ":".join(filter(None, [namespace, entry.namespace])) or None)
        elif isinstance(entry, URLPattern):
            qualified = entry.name and (f"{namespace}:{entry.name}" if namespace else entry.name)
            yield qualified, entry


def object_patterns():
    for name, pattern in iter_patterns():
        keywords = set(pattern.pattern.converters)
        if keywords and name not in NOT_OBJECT_URLS:
            yield name, keywords


def test_every_object_url_has_an_object_maker():
    missing = {
        name: sorted(keywords - OBJECT_MAKERS.keys())
        for name, keywords in object_patterns()
        if keywords - OBJECT_MAKERS.keys()
    }
    assert not missing, f"Add these URL keywords to OBJECT_MAKERS: {missing}"


def test_every_url_is_named():
    assert all(name for name, _ in iter_patterns()), "Unnamed URL patterns cannot be walked"


@pytest.mark.parametrize(("url_name", "keywords"), sorted(object_patterns()))
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_organizations_object_is_404(client, summit, harbor_admin, url_name, keywords, method):
    kwargs = url_kwargs(keywords, summit)
    missing = dict.fromkeys(keywords, 987654321)
    client.force_login(harbor_admin.user)

    response = getattr(client, method)(reverse(url_name, kwargs=kwargs))
    response_for_missing_id = getattr(client, method)(reverse(url_name, kwargs=missing))

    # A POST-only view answers GET with 405 whatever the id; otherwise 404.
    assert response.status_code in (404, 405), f"{method.upper()} {url_name}: {response.status_code}"
    assert response.status_code == response_for_missing_id.status_code
    if method == "post":
        assert response.status_code == 404
    assert Organization.objects.count() == 2
