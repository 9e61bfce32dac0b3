"""Right after `seed_demo`, outreach has a year of touches and the attention page has work to show."""

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from outreach.flags import FlagChanges, flags_update
from outreach.models import Flag, FlagKind, FollowUp, Touch, TouchKind


def test_about_three_thousand_touches_of_every_kind_a_liaison_logs(demo, seeded_at):
    assert 2500 <= Touch.objects.count() <= 3500
    kinds = set(Touch.objects.values_list("kind", flat=True))
    assert kinds >= {TouchKind.CALL, TouchKind.OFFICE_VISIT, TouchKind.LUNCH, TouchKind.IN_SERVICE}
    assert not Touch.objects.filter(occurred_at__gt=seeded_at).exists()
    assert Touch.objects.filter(physician__isnull=True, practice__isnull=False).exists()
    assert FollowUp.objects.filter(due_on__lt=timezone.localdate(seeded_at)).exists()
    assert FollowUp.objects.filter(due_on__gt=timezone.localdate(seeded_at)).exists()


def test_some_sources_are_lapsed_and_some_declining(demo):
    for organization in demo.values():
        open_flags = dict(
            Flag.objects.filter(organization=organization, closed_at__isnull=True)
            .values_list("kind")
            .annotate(count=Count("pk"))
        )
        assert open_flags[FlagKind.CONTACT_LAPSED] >= 5, organization
        assert open_flags[FlagKind.REFERRALS_DECLINING] >= 1, organization


def test_the_attention_page_lists_them_with_reasons(demo, client, django_user_model):
    client.force_login(django_user_model.objects.get(username="summit.liaison"))

    page = client.get(reverse("outreach:attention")).content.decode()

    assert "Contact lapsed" in page
    assert "Referrals declining" in page
    assert "in the last 60 days; about" in page


def test_running_the_job_again_changes_nothing(demo, seeded_at):
    for organization in demo.values():
        assert flags_update(organization=organization, now=seeded_at) == FlagChanges()
