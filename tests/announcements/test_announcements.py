import datetime
import uuid

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from announcements.models import AnnouncementTouch, ServiceAnnouncement
from announcements.selectors import REPEAT_WINDOW, announcement_audience
from announcements.services import AnnouncementRepeat, announcement_send
from clinics.models import Population
from outbox.models import EmailSuppression, OutboundEmail
from outbox.services import email_send_pending
from outreach.models import Touch, TouchKind

from ..factories import (
    AffiliationFactory,
    PhysicianFactory,
    PracticeFactory,
    ReferralFactory,
    ServiceOfferingFactory,
)

ORTHO = "207X00000X"
FAMILY = "207Q00000X"


@pytest.fixture
def sports():
    return Population.objects.get(code="sports")


@pytest.fixture
def geriatric():
    return Population.objects.get(code="geriatric")


@pytest.fixture
def offering(summit, summit_clinic, sports):
    offering = ServiceOfferingFactory(
        organization=summit,
        clinic=summit_clinic,
        name="Return-to-sport program",
        description="Strength and plyometric testing before athletes go back to play.",
    )
    offering.populations.set([sports])
    return offering


def physician(organization, *, taxonomy_code=FAMILY, email=None, populations=(), **fields):
    """A physician whose primary practice treats `populations`."""
    made = PhysicianFactory(organization=organization, taxonomy_code=taxonomy_code, email="", **fields)
    made.email = f"dr{made.pk}@example.org" if email is None else email
    made.save()
    practice = PracticeFactory(organization=organization)
    practice.populations.set(populations)
    AffiliationFactory(organization=organization, physician=made, practice=practice, is_primary=True)
    return made


def audience(organization, *, taxonomy_codes=(), populations=()):
    return set(
        announcement_audience(
            organization=organization,
            taxonomy_codes=list(taxonomy_codes),
            population_ids=[population.pk for population in populations],
        )
    )


def send(organization, user, offering, *, taxonomy_codes=(), populations=(), request_key=None, confirmed=()):
    return announcement_send(
        organization=organization,
        user=user,
        offering=offering,
        subject="New at Downtown: Return-to-sport program",
        message="Strength testing before athletes go back to play.",
        taxonomy_codes=list(taxonomy_codes),
        population_ids=[population.pk for population in populations],
        request_key=request_key or uuid.uuid4(),
        repeat_confirmed_for=confirmed,
    )


def form_data(offering, **overrides):
    data = {
        "subject": f"New at {offering.clinic.name}: {offering.name}",
        "message": offering.description,
        "populations": [population.pk for population in offering.populations.all()],
        "request_key": str(uuid.uuid4()),
        "action": "send",
    }
    return {**data, **overrides}


# The audience


def test_audience_by_specialty(summit):
    ortho = physician(summit, taxonomy_code=ORTHO)
    physician(summit, taxonomy_code=FAMILY)

    assert audience(summit, taxonomy_codes=[ORTHO]) == {ortho}


def test_audience_by_population_of_the_primary_practice_only(summit, sports, geriatric):
    treats_sports = physician(summit, populations=[sports, geriatric])
    physician(summit, populations=[geriatric])
    # Works part-time at a sports practice: not their primary one, so not in the audience.
    elsewhere = physician(summit)
    sports_practice = PracticeFactory(organization=summit)
    sports_practice.populations.set([sports])
    AffiliationFactory(organization=summit, physician=elsewhere, practice=sports_practice, is_primary=False)

    assert audience(summit, populations=[sports]) == {treats_sports}
    # A practice treating two chosen populations lists its physician once.
    assert (
        announcement_audience(
            organization=summit, taxonomy_codes=[], population_ids=[sports.pk, geriatric.pk]
        ).count()
        == 2
    )


def test_audience_is_specialty_or_population(summit, sports):
    ortho = physician(summit, taxonomy_code=ORTHO)
    sporty = physician(summit, populations=[sports])
    physician(summit)

    assert audience(summit, taxonomy_codes=[ORTHO], populations=[sports]) == {ortho, sporty}


def test_audience_leaves_out_inactive_unreachable_unsubscribed_and_other_organizations(summit, harbor):
    reachable = physician(summit, taxonomy_code=ORTHO)
    physician(summit, taxonomy_code=ORTHO, is_active=False)
    physician(summit, taxonomy_code=ORTHO, email="")
    unsubscribed = physician(summit, taxonomy_code=ORTHO, email="Gone.Away@Example.org")
    EmailSuppression.objects.create(organization=summit, address=unsubscribed.email)
    physician(harbor, taxonomy_code=ORTHO)

    assert audience(summit, taxonomy_codes=[ORTHO]) == {reachable}


def test_unsubscribing_from_another_organization_does_not_count_here(summit, harbor):
    shared = physician(summit, taxonomy_code=ORTHO, email="shared@example.org")
    EmailSuppression.objects.create(organization=harbor, address="shared@example.org")

    assert audience(summit, taxonomy_codes=[ORTHO]) == {shared}


def test_audience_is_one_query(summit, sports, django_assert_num_queries):
    for _ in range(5):
        physician(summit, taxonomy_code=ORTHO, populations=[sports])

    with django_assert_num_queries(1):
        list(announcement_audience(organization=summit, taxonomy_codes=[ORTHO], population_ids=[sports.pk]))


def test_no_specialty_and_no_population_is_refused(summit, summit_admin, offering):
    physician(summit, taxonomy_code=ORTHO)

    with pytest.raises(ValidationError, match="at least one specialty or patient population"):
        send(summit, summit_admin.user, offering)

    assert not ServiceAnnouncement.objects.exists()
    assert not OutboundEmail.objects.exists()


# Sending


def test_send_enqueues_one_email_and_logs_one_touch_per_recipient(summit, summit_admin, offering, sports):
    recipients = {physician(summit, populations=[sports]) for _ in range(3)}
    physician(summit, populations=[sports], email="")

    announcement = send(summit, summit_admin.user, offering, populations=[sports])

    assert announcement.recipient_count == 3
    assert list(announcement.populations.all()) == [sports]
    emails = OutboundEmail.objects.filter(organization=summit, kind="service_announcement")
    assert sorted(email.to_address for email in emails) == sorted(p.email for p in recipients)
    assert {email.idempotency_key for email in emails} == {
        f"announcement:{announcement.pk}:physician:{p.pk}" for p in recipients
    }
    touches = Touch.objects.filter(
        pk__in=AnnouncementTouch.objects.filter(announcement=announcement).values("touch")
    )
    assert {touch.physician for touch in touches} == recipients
    assert {(t.kind, t.made_by, t.notes) for t in touches} == {
        (TouchKind.SERVICE_ANNOUNCEMENT, summit_admin.user, announcement.subject)
    }

    email_send_pending()
    assert sorted(message.to[0] for message in mail.outbox) == sorted(p.email for p in recipients)


def test_send_queries_and_wake_ups_stay_flat(
    summit, summit_admin, offering, sports, geriatric, django_capture_on_commit_callbacks
):
    """The outbox rows and touches go in batches: 40 recipients cost what one does, and wake one sender."""
    physician(summit, populations=[sports])
    for _ in range(40):
        physician(summit, populations=[geriatric])

    def queries(population):
        with CaptureQueriesContext(connection) as captured:
            announcement = send(summit, summit_admin.user, offering, populations=[population])
        return announcement.recipient_count, len(captured)

    with django_capture_on_commit_callbacks() as callbacks:
        forty_recipients, forty = queries(geriatric)
    one_recipient, one = queries(sports)

    assert (one_recipient, forty_recipients) == (1, 40)
    assert forty == one
    assert len(callbacks) == 1
    assert OutboundEmail.objects.filter(status="pending").count() == 41


def test_same_request_key_sends_nothing_more(summit, summit_admin, offering, sports):
    physician(summit, populations=[sports])
    physician(summit, populations=[sports])
    key = uuid.uuid4()

    first = send(summit, summit_admin.user, offering, populations=[sports], request_key=key)
    physician(summit, populations=[sports])  # joins between the two submits
    again = send(summit, summit_admin.user, offering, populations=[sports], request_key=key)

    assert again == first
    assert ServiceAnnouncement.objects.count() == 1
    assert OutboundEmail.objects.count() == 2
    assert Touch.objects.count() == 2


def test_double_submitted_form_sends_once(admin_client, summit, offering, sports):
    physician(summit, populations=[sports])
    physician(summit, populations=[sports])
    data = form_data(offering)
    url = reverse("announcements:create", args=[offering.pk])

    first = admin_client.post(url, data)
    second = admin_client.post(url, data)

    announcement = ServiceAnnouncement.objects.get()
    detail = reverse("announcements:detail", args=[announcement.pk])
    assert (first.status_code, first.url, second.url) == (302, detail, detail)
    email_send_pending()
    assert len(mail.outbox) == 2
    assert AnnouncementTouch.objects.filter(announcement=announcement).count() == 2


def test_another_organizations_request_key_is_refused(summit, harbor, summit_admin, harbor_admin, offering):
    physician(summit, taxonomy_code=ORTHO)
    harbor_offering = ServiceOfferingFactory(organization=harbor)
    physician(harbor, taxonomy_code=ORTHO)
    key = uuid.uuid4()
    send(harbor, harbor_admin.user, harbor_offering, taxonomy_codes=[ORTHO], request_key=key)

    with pytest.raises(ValidationError, match="expired"):
        send(summit, summit_admin.user, offering, taxonomy_codes=[ORTHO], request_key=key)


def test_announcing_the_same_offering_again_within_the_window_asks_first(
    summit, summit_admin, offering, sports
):
    doctor = physician(summit, populations=[sports], last_name="Okafor")
    first = send(summit, summit_admin.user, offering, populations=[sports])
    email_send_pending()

    with pytest.raises(AnnouncementRepeat) as refusal:
        send(summit, summit_admin.user, offering, populations=[sports])

    (earlier,) = refusal.value.earlier
    assert (earlier.announcement, earlier.recipient_count, earlier.first_recipients) == (first, 1, [doctor])
    assert earlier.announcement.created_by == summit_admin.user
    assert ServiceAnnouncement.objects.count() == 1
    assert OutboundEmail.objects.count() == 1

    again = send(summit, summit_admin.user, offering, populations=[sports], confirmed=[first.pk])
    email_send_pending()

    assert again != first
    assert [message.to for message in mail.outbox] == [[doctor.email], [doctor.email]]


def test_a_repeat_is_any_overlap_however_the_audience_is_chosen(summit, summit_admin, offering, sports):
    """By specialty today, by population a day ago: the physician in both would get it twice."""
    both = physician(summit, taxonomy_code=ORTHO, populations=[sports])
    physician(summit, taxonomy_code=ORTHO)
    physician(summit, populations=[sports])
    first = send(summit, summit_admin.user, offering, populations=[sports])
    other_service = ServiceOfferingFactory(organization=summit, clinic=offering.clinic, name="Pelvic health")
    send(summit, summit_admin.user, other_service, populations=[sports])

    with pytest.raises(AnnouncementRepeat) as refusal:
        send(summit, summit_admin.user, offering, taxonomy_codes=[ORTHO])

    assert [(e.announcement, e.first_recipients) for e in refusal.value.earlier] == [(first, [both])]


def test_the_window_is_a_week_and_then_a_reminder_goes_without_asking(summit, summit_admin, offering, sports):
    physician(summit, populations=[sports])
    sent_at = datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.UTC)
    with time_machine.travel(sent_at, tick=False):
        send(summit, summit_admin.user, offering, populations=[sports])

    just_inside = sent_at + REPEAT_WINDOW - datetime.timedelta(minutes=1)
    with time_machine.travel(just_inside, tick=False), pytest.raises(AnnouncementRepeat):
        send(summit, summit_admin.user, offering, populations=[sports])
    with time_machine.travel(sent_at + REPEAT_WINDOW + datetime.timedelta(minutes=1), tick=False):
        send(summit, summit_admin.user, offering, populations=[sports])

    assert ServiceAnnouncement.objects.count() == 2


def test_a_confirmation_covers_only_the_announcements_it_was_shown(
    summit, summit_admin, member_factory, offering, sports
):
    """A colleague's announcement sent after the warning was shown must be confirmed too."""
    physician(summit, populations=[sports])
    first = send(summit, summit_admin.user, offering, populations=[sports])
    colleagues = send(
        summit, member_factory(summit, "admin").user, offering, populations=[sports], confirmed=[first.pk]
    )

    with pytest.raises(AnnouncementRepeat) as refusal:
        send(summit, summit_admin.user, offering, populations=[sports], confirmed=[first.pk])

    assert refusal.value.announcement_ids == [colleagues.pk, first.pk]
    assert ServiceAnnouncement.objects.count() == 2


def test_back_then_send_again_asks_who_already_has_it_and_only_a_confirm_sends(
    admin_client, summit, summit_admin, offering, sports
):
    """Send, Back (the page comes back with a new form key), Send: the second Send asks first."""
    summit_admin.user.first_name, summit_admin.user.last_name = "Ana", "Ruiz"
    summit_admin.user.save()
    doctors = [physician(summit, populations=[sports], last_name=name) for name in ("Okafor", "Lind")]
    url = reverse("announcements:create", args=[offering.pk])
    admin_client.post(url, form_data(offering))
    first = ServiceAnnouncement.objects.get()

    back = admin_client.get(url)
    resubmitted = {**form_data(offering), "request_key": str(back.context["form"].initial["request_key"])}
    warned = admin_client.post(url, resubmitted)

    page = warned.content.decode()
    sent_on = timezone.localtime(first.created_at)
    assert warned.status_code == 200
    assert "Already announced: nothing was sent" in page
    assert "2 of them</strong> received" in page
    assert f"on {sent_on:%a, %b %-d, %-I:%M %p}, sent by Ana Ruiz" in page
    assert all(doctor.display_name in page for doctor in doctors)
    assert f'name="repeat_of" value="{first.pk}"' in page
    assert ServiceAnnouncement.objects.count() == 1
    assert OutboundEmail.objects.count() == 2

    confirmed = admin_client.post(url, {**resubmitted, "action": "send_again", "repeat_of": [first.pk]})

    assert confirmed.status_code == 302
    assert ServiceAnnouncement.objects.count() == 2
    assert OutboundEmail.objects.count() == 4


def test_a_malformed_confirmation_is_a_form_error(admin_client, summit, offering, sports):
    physician(summit, populations=[sports])
    url = reverse("announcements:create", args=[offering.pk])

    for bad in ("x", "99999999999999999999999", "-1"):
        response = admin_client.post(url, {**form_data(offering), "action": "send_again", "repeat_of": bad})
        assert response.status_code == 200, bad
    assert not ServiceAnnouncement.objects.exists()


def test_inactive_offering_cannot_be_announced(summit, summit_admin, offering, sports):
    physician(summit, populations=[sports])
    offering.is_active = False
    offering.save()

    with pytest.raises(ValidationError, match="no longer offered"):
        send(summit, summit_admin.user, offering, populations=[sports])


def test_an_audience_of_nobody_sends_nothing(summit, summit_admin, offering, geriatric):
    with pytest.raises(ValidationError, match="nothing was sent"):
        send(summit, summit_admin.user, offering, populations=[geriatric])


# The email


def test_email_has_text_html_and_list_unsubscribe(summit, summit_admin, offering, sports):
    summit_admin.user.first_name, summit_admin.user.last_name = "Dana", "Liaison"
    summit_admin.user.save()
    offering.clinic.address_line1, offering.clinic.phone = "100 Colfax Ave", "303-555-0199"
    offering.clinic.save()
    doctor = physician(summit, populations=[sports], prefix="Dr.", last_name="Okafor")

    send(summit, summit_admin.user, offering, populations=[sports])
    email_send_pending()

    (message,) = mail.outbox
    html = dict((mimetype, content) for content, mimetype in message.alternatives)["text/html"]
    assert message.to == [doctor.email]
    assert message.subject == "New at Downtown: Return-to-sport program"
    unsubscribe_url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert "/unsubscribe/" in unsubscribe_url
    assert '<a class="text-nowrap" href="tel:+1-303-555-0199">(303) 555-0199</a>' in html
    for body in (message.body, html):
        assert unsubscribe_url in body
        assert "Dr. Okafor" in body
        assert "Strength testing before athletes go back to play." in body
        assert "100 Colfax Ave" in body
        assert "(303) 555-0199" in body  # shown as people read it
        assert "Dana Liaison" in body


def test_replies_go_to_the_admin_who_sent_it(summit, summit_admin, offering, sports):
    physician(summit, populations=[sports])

    first = send(summit, summit_admin.user, offering, populations=[sports])
    summit_admin.user.email = ""
    send(summit, summit_admin.user, offering, populations=[sports], confirmed=[first.pk])
    email_send_pending()

    assert [message.reply_to for message in mail.outbox] == [
        [summit_admin.user.username + "@example.com"],
        [],
    ]


def test_email_carries_no_patient_data(admin_client, summit, offering, sports):
    doctor = physician(summit, populations=[sports])
    ReferralFactory(
        organization=summit, physician=doctor, patient_first_name="Zelda", patient_last_name="Quartermain"
    )

    page = admin_client.get(reverse("announcements:create", args=[offering.pk]))
    initial = page.context["form"].initial
    admin_client.post(
        reverse("announcements:create", args=[offering.pk]),
        form_data(offering, subject=initial["subject"], message=initial["message"]),
    )
    email_send_pending()

    (message,) = mail.outbox
    assert message.subject == f"New at {offering.clinic.name}: {offering.name}"
    for text in (message.subject, message.body, message.alternatives[0][0]):
        assert "Zelda" not in text
        assert "Quartermain" not in text


# The pages


def test_form_is_prefilled_from_the_offering(admin_client, summit, offering, sports):
    physician(summit, populations=[sports], first_name="Ada", last_name="Ruiz")

    response = admin_client.get(reverse("announcements:create", args=[offering.pk]))

    form = response.context["form"]
    assert form.initial["subject"] == "New at Summit PT – Downtown: Return-to-sport program"
    assert form.initial["message"] == offering.description
    assert form.initial["populations"] == [sports]
    assert isinstance(form.initial["request_key"], uuid.UUID)
    assert response.context["preview"].recipient_count == 1
    content = response.content.decode()
    assert "Ada Ruiz" in content
    assert f'href="{reverse("clinics:service_list")}"' in content
    assert "Skip" in content


def test_specialty_choices_are_those_of_active_physicians(admin_client, summit, offering):
    physician(summit, taxonomy_code=ORTHO)
    physician(summit, taxonomy_code=ORTHO)
    physician(summit, taxonomy_code="213E00000X", is_active=False)

    response = admin_client.get(reverse("announcements:create", args=[offering.pk]))

    assert response.context["form"].fields["taxonomy_codes"].choices == [(ORTHO, "Orthopaedic Surgery (2)")]


def test_preview_without_javascript_counts_and_explains_who_is_left_out(admin_client, summit, offering):
    physician(summit, taxonomy_code=ORTHO, first_name="Ada", last_name="Ruiz")
    physician(summit, taxonomy_code=ORTHO, email="")
    gone = physician(summit, taxonomy_code=ORTHO)
    EmailSuppression.objects.create(organization=summit, address=gone.email)

    response = admin_client.post(
        reverse("announcements:create", args=[offering.pk]),
        form_data(offering, populations=[], taxonomy_codes=[ORTHO], action="preview"),
    )

    preview = response.context["preview"]
    assert (preview.recipient_count, preview.without_email_count, preview.unsubscribed_count) == (1, 1, 1)
    content = response.content.decode()
    assert "physician will receive this" in content
    assert "Ada Ruiz" in content
    assert "1 matching physician has no email address" in content
    assert "1 matching physician has unsubscribed" in content
    assert not ServiceAnnouncement.objects.exists()


def test_preview_lists_the_first_twenty_names(admin_client, summit, offering, sports):
    for _ in range(23):
        physician(summit, populations=[sports])

    response = admin_client.post(
        reverse("announcements:create", args=[offering.pk]), form_data(offering, action="preview")
    )

    assert len(response.context["preview"].first_recipients) == 20
    assert "and 3 more" in response.content.decode()


def test_htmx_preview_answers_with_the_partial_only(admin_client, summit, offering, sports):
    physician(summit, populations=[sports])

    response = admin_client.post(
        reverse("announcements:create", args=[offering.pk]),
        form_data(offering, action="preview"),
        headers={"HX-Request": "true"},
    )

    content = response.content.decode()
    assert content.lstrip().startswith('<section id="audience-preview"')
    assert "physician will receive this" in content


def test_send_without_an_audience_shows_a_message(admin_client, summit, offering):
    physician(summit, taxonomy_code=ORTHO)

    response = admin_client.post(
        reverse("announcements:create", args=[offering.pk]), form_data(offering, populations=[])
    )

    assert response.status_code == 200
    assert "Choose at least one specialty or patient population" in response.content.decode()
    assert not ServiceAnnouncement.objects.exists()


@pytest.mark.parametrize("action", ["send", "preview"])
@pytest.mark.parametrize("population_id", ["99999999999999999999", "-9223372036854775809", "1" * 5000])
def test_an_id_no_population_can_have_is_a_form_error(
    admin_client, summit, offering, sports, action, population_id
):
    physician(summit, populations=[sports])

    response = admin_client.post(
        reverse("announcements:create", args=[offering.pk]),
        form_data(offering, populations=[sports.pk, population_id], action=action),
    )

    assert response.status_code == 200
    # Out of range: no row has it ("not one of the available choices"); too long: not a number.
    assert response.context["form"].errors["populations"]
    assert not ServiceAnnouncement.objects.exists()


def test_inactive_offering_page_returns_to_services(admin_client, offering):
    offering.is_active = False
    offering.save()

    response = admin_client.get(reverse("announcements:create", args=[offering.pk]))

    assert response.url == reverse("clinics:service_list")


@pytest.mark.parametrize("recipients", [1, 30])
def test_detail_and_list_queries_stay_flat(
    admin_client, summit, summit_admin, offering, sports, recipients, django_assert_max_num_queries
):
    for _ in range(recipients):
        physician(summit, populations=[sports])
    announcement = send(summit, summit_admin.user, offering, populations=[sports])
    send(summit, summit_admin.user, offering, taxonomy_codes=[FAMILY], confirmed=[announcement.pk])
    email_send_pending()

    with django_assert_max_num_queries(10):
        detail = admin_client.get(reverse("announcements:detail", args=[announcement.pk]))
    with django_assert_max_num_queries(10):
        listing = admin_client.get(reverse("announcements:list"))

    assert len(detail.context["recipients"]) == recipients
    assert {recipient.delivery.status for recipient in detail.context["recipients"]} == {"sent"}
    assert detail.context["delivery"] == [("Sent", "sent", recipients)]
    assert len(listing.context["announcements"]) == 2


def test_detail_shows_the_audience_and_each_recipients_status(
    admin_client, summit, summit_admin, offering, sports
):
    doctor = physician(summit, populations=[sports], taxonomy_code=ORTHO, first_name="Ada", last_name="Ruiz")
    announcement = send(summit, summit_admin.user, offering, taxonomy_codes=[ORTHO], populations=[sports])

    content = admin_client.get(reverse("announcements:detail", args=[announcement.pk])).content.decode()

    for text in ("Orthopaedic Surgery", "Sports patients", "Ada Ruiz", doctor.email, "Pending"):
        assert text in content


def test_list_offers_each_active_offering(admin_client, summit, summit_clinic, offering):
    ServiceOfferingFactory(organization=summit, clinic=summit_clinic, name="Retired program", is_active=False)

    response = admin_client.get(reverse("announcements:list"))

    assert list(response.context["offerings"]) == [offering]
    assert reverse("announcements:create", args=[offering.pk]) in response.content.decode()


# From the services pages


@pytest.mark.parametrize("editing", [False, True])
def test_saving_an_active_offering_leads_to_announcing_it(
    admin_client, summit, summit_clinic, sports, editing
):
    data = {"clinic": summit_clinic.pk, "name": "Sports rehab", "populations": [sports.pk], "is_active": "on"}
    if editing:
        existing = ServiceOfferingFactory(organization=summit, clinic=summit_clinic, name="Sport rehab")
        url = reverse("clinics:service_edit", args=[existing.pk])
    else:
        url = reverse("clinics:service_create")

    response = admin_client.post(url, data, follow=True)

    offering = summit_clinic.service_offerings.get(name="Sports rehab")
    assert response.redirect_chain == [(reverse("announcements:create", args=[offering.pk]), 302)]
    content = response.content.decode()
    assert "Saved. Announce it to the physicians it matters to, or skip." in content
    assert "Skip" in content


def test_saving_an_offering_not_offered_returns_to_the_list(admin_client, summit_clinic):
    response = admin_client.post(
        reverse("clinics:service_create"), {"clinic": summit_clinic.pk, "name": "Paused program"}
    )

    assert response.url == reverse("clinics:service_list")


def test_service_list_has_an_announce_link_for_admins_only(
    client, login, summit, summit_admin, member_factory, offering
):
    url = reverse("announcements:create", args=[offering.pk])

    assert url in login(summit_admin).get(reverse("clinics:service_list")).content.decode()
    client.logout()
    liaison = member_factory(summit, "liaison")
    assert url not in login(liaison).get(reverse("clinics:service_list")).content.decode()
