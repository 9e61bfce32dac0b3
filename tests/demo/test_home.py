"""Right after `seed_demo`, each role's home page has work to show, and each count's link shows its rows."""

import pytest

from ..home_pages import assert_links_show_what_they_count, home_counts

# What the demo lays out for each person (referrals/demo.py `standings`, outreach's follow-ups).
LEADING_WORK = {
    "summit.frontdesk": ("Patients to reach", "late for the first call"),
    "summit.therapist": ("My plans of care", "overdue for signature"),
    "summit.liaison": ("Follow-ups", "overdue"),
    "summit.admin": ("Plans of care", "overdue for signature"),
}


@pytest.mark.parametrize("username", list(LEADING_WORK))
def test_each_demo_person_sees_work_waiting_and_each_count_holds(demo, client, django_user_model, username):
    client.force_login(django_user_model.objects.get(username=username))
    title, label = LEADING_WORK[username]

    assert home_counts(client)[title][label].value > 0
    assert assert_links_show_what_they_count(client) >= 2
