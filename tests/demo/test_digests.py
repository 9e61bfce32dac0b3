"""The demo's weekly digests: every demo therapist, liaison and admin has one with real content, sent once."""

from io import StringIO

from django.core.management import call_command

from clinics.models import Membership
from digests.content import DIGEST_ROLES
from digests.models import DigestPreference
from digests.selectors import digest_preview
from outbox.models import OutboundEmail


def demo_people(demo):
    return list(
        Membership.objects.filter(organization__in=demo.values(), role__in=DIGEST_ROLES, is_active=True)
        .select_related("user", "organization", "home_clinic")
        .order_by("pk")
    )


def test_every_demo_persons_digest_previews_with_real_content(demo):
    people = demo_people(demo)
    assert {m.role for m in people} == set(DIGEST_ROLES)

    for membership in people:
        digest = digest_preview(membership=membership, sections_off=set())
        assert len(digest.sections) >= 3, membership.user.username


def test_sending_everyones_digest_now_twice_sends_each_person_one_with_real_content(demo):
    people = demo_people(demo)
    assert DigestPreference.objects.filter(membership__in=people).count() == len(people)

    call_command("send_digests", "--due-now", stdout=StringIO())
    call_command("send_digests", "--due-now", stdout=StringIO())

    emails = OutboundEmail.objects.filter(kind="weekly_digest")
    assert sorted(emails.values_list("to_address", flat=True)) == sorted(m.user.email for m in people)
    for email in emails:
        assert "Nothing needs you this week" not in email.body_text
        assert "==" in email.body_text
