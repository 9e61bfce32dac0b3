import datetime
import secrets
from collections.abc import Callable, Iterable, Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from clinics.clock import organization_today, person_today
from clinics.history import history_record_bulk
from clinics.models import Membership, Organization
from clinics.roles import ADMINS, ALL_ROLES, acts_as
from clinics.services import register_membership_changed
from physicians.models import Gatekeeper, Physician, Practice

from .flags import flags_update, physicians_reached
from .models import NOT_CONTACT_KINDS, CalendarFeed, FollowUp, OutreachSettings, Touch, TouchKind
from .roles import OUTREACH
from .selectors import calendar_token_digest, outreach_settings_get

# Far enough ahead for a yearly check-in, near enough to catch a mistyped year
# (and to keep every date a calendar feed or a snooze adds days to representable).
FOLLOW_UP_MAX_DAYS_AHEAD = 730
# Relationship history starts here: an earlier date is a typo (year 0001 or 1926 for 2026).
EARLIEST_TOUCH_DATE = datetime.date(2000, 1, 1)
TOUCH_TOO_EARLY_MESSAGE = f"Choose a date on or after {EARLIEST_TOUCH_DATE:%B %-d, %Y}."


# Apps above keep figures derived from touches (analytics' rollups) and must
# bring them in step in the same transaction as every write here, without this
# app importing them: they register when they load. A hook takes the touches
# just logged or removed (a removed one keeps its fields, not its id) and runs
# inside the writing transaction.
TouchesChangedHook = Callable[[Sequence[Touch]], None]
_touches_changed_hooks: list[TouchesChangedHook] = []


def register_touches_changed(hook: TouchesChangedHook) -> TouchesChangedHook:
    """Calls `hook(touches)` inside every transaction that logs or removes touches."""
    if hook not in _touches_changed_hooks:
        _touches_changed_hooks.append(hook)
    return hook


def _touches_changed(touches: Sequence[Touch]) -> None:
    if touches:
        for hook in _touches_changed_hooks:
            hook(touches)


def follow_up_latest(*, today: datetime.date) -> datetime.date:
    """The last day a follow-up may be due, planned or snoozed on `today`."""
    return today + datetime.timedelta(days=FOLLOW_UP_MAX_DAYS_AHEAD)


def follow_up_too_far_message(*, today: datetime.date) -> str:
    return f"Choose a date within two years, by {follow_up_latest(today=today):%b %-d, %Y}."


def _owner_today(*, organization: Organization, owner_id: int | None) -> datetime.date:
    """A follow-up is its owner's, so its "today" is counted in their zone (clinics/clock.py)."""
    membership = (
        Membership.objects.select_related("organization", "home_clinic")
        .filter(organization=organization, user_id=owner_id)
        .first()
        if owner_id is not None
        else None
    )
    return person_today(membership) if membership else organization_today(organization)


def touch_too_early(occurred_at: datetime.datetime) -> bool:
    earliest = datetime.datetime.combine(
        EARLIEST_TOUCH_DATE, datetime.time.min, tzinfo=timezone.get_current_timezone()
    )
    return occurred_at < earliest


@transaction.atomic
def touch_log(
    *,
    organization: Organization,
    made_by: User | None,
    logged_by: User | None,
    kind: str,
    occurred_at: datetime.datetime,
    physician: Physician | None = None,
    practice: Practice | None = None,
    gatekeeper: Gatekeeper | None = None,
    notes: str = "",
    outcome: str = "",
    follow_up_on: datetime.date | None = None,
    follow_up_note: str = "",
) -> Touch:
    """Records a touch and, when it names a next step, the follow-up its maker owns.

    `made_by` made the contact; `logged_by` is the signed-in person entering
    it, who may be someone else (a colleague logging a liaison's call).
    A gatekeeper is always met at their practice, so the practice is filled in
    from the gatekeeper: the touch then counts as contact with that practice.
    """
    if touch_too_early(occurred_at):
        raise ValidationError({"occurred_at": TOUCH_TOO_EARLY_MESSAGE})
    if follow_up_on is not None:
        today = _owner_today(organization=organization, owner_id=made_by.pk if made_by else None)
        if follow_up_on > follow_up_latest(today=today):
            raise ValidationError({"follow_up_on": follow_up_too_far_message(today=today)})
    if gatekeeper is not None and practice is None:
        practice = gatekeeper.practice
    touch = Touch(
        organization=organization,
        made_by=made_by,
        logged_by=logged_by,
        kind=kind,
        occurred_at=occurred_at,
        physician=physician,
        practice=practice,
        gatekeeper=gatekeeper,
        notes=notes,
        outcome=outcome,
    )
    touch.full_clean()
    touch.save()
    if follow_up_on is not None and made_by is not None:
        follow_up = FollowUp(
            organization=organization, touch=touch, owner=made_by, due_on=follow_up_on, note=follow_up_note
        )
        follow_up.full_clean()
        follow_up.save()
    _touches_changed([touch])
    # The attention page should drop a source the moment someone reaches it,
    # not at tomorrow's run of the job.
    # Robust: the touch is saved either way, and the morning job catches up.
    transaction.on_commit(
        lambda: flags_update(organization=organization, physician_ids=physicians_reached(touch=touch)),
        robust=True,
    )
    return touch


def touch_log_broadcast(
    *,
    organization: Organization,
    user: User,
    kind: str,
    occurred_at: datetime.datetime,
    physicians: Iterable[Physician],
    notes: str = "",
) -> list[Touch]:
    """Records that one broadcast (an announcement email) reached each of `physicians`: one touch each.

    In the caller's transaction, in batched INSERTs (no query per physician),
    and without re-evaluating flags: only kinds that never count as contact
    may be logged this way, so there is nothing to re-evaluate. Returns the
    touches, saved, in the order of `physicians`.
    """
    if kind not in NOT_CONTACT_KINDS:
        raise ValueError(f"{kind} counts as contact: log it with touch_log, which re-evaluates flags.")
    physicians = list(physicians)
    if any(physician.organization_id != organization.pk for physician in physicians):
        raise ValueError("Every physician reached must belong to the organization.")
    touches = Touch.objects.bulk_create(
        Touch(
            organization=organization,
            physician=physician,
            kind=kind,
            occurred_at=occurred_at,
            made_by=user,
            logged_by=user,
            notes=notes,
        )
        for physician in physicians
    )
    history_record_bulk(touches, user=user, created=True)
    _touches_changed(touches)
    return touches


def _may_act_on(follow_up: FollowUp, acting: Membership) -> bool:
    """A follow-up is its owner's to settle; an admin may settle anyone's (e.g. for someone away)."""
    if acts_as(acting, ADMINS, organization_id=follow_up.organization_id):
        return True
    return acts_as(acting, ALL_ROLES, organization_id=follow_up.organization_id) and (
        follow_up.owner_id == acting.user_id
    )


def touch_removable_by(touch: Touch, *, acting: Membership) -> bool:
    """Whether `acting` may remove `touch`: its maker, whoever logged it or an admin; never an announcement's.

    Touches are the history that last contact is derived from, so removing one
    is for the people who know it was a mistake. An announcement's touches
    record an email that was sent (the touch form never offers that kind).
    """
    if touch.kind == TouchKind.SERVICE_ANNOUNCEMENT:
        return False
    if acts_as(acting, ADMINS, organization_id=touch.organization_id):
        return True
    return acts_as(acting, ALL_ROLES, organization_id=touch.organization_id) and (
        acting.user_id in (touch.made_by_id, touch.logged_by_id)
    )


@transaction.atomic
def touch_remove(*, touch: Touch, acting: Membership) -> None:
    """Removes a touch logged by mistake (wrong physician, logged twice), with its follow-up.

    Who may is `touch_removable_by`. The flags of the physicians it reached
    are evaluated again without it.
    """
    if touch.kind == TouchKind.SERVICE_ANNOUNCEMENT:
        raise ValidationError("A service announcement's touches record emails that were sent; they stay.")
    if not touch_removable_by(touch, acting=acting):
        raise PermissionDenied("Only the person who made or logged this touch, or an admin, can remove it.")
    organization, reached = touch.organization, physicians_reached(touch=touch)
    touch.delete()
    _touches_changed([touch])
    transaction.on_commit(
        lambda: flags_update(organization=organization, physician_ids=reached),
        robust=True,
    )


def followup_complete(*, follow_up: FollowUp, acting: Membership) -> FollowUp:
    """Marks a follow-up done; completing it again changes nothing."""
    if not _may_act_on(follow_up, acting):
        raise PermissionDenied("Only the owner of this follow-up or an admin can complete it.")
    if follow_up.completed_at is None:
        follow_up.completed_at = timezone.now()
        follow_up.save(update_fields=["completed_at"])
    return follow_up


@transaction.atomic
def followup_log_touch(
    *, follow_up: FollowUp, acting: Membership, kind: str, occurred_at: datetime.datetime, notes: str = ""
) -> Touch:
    """Logs the touch a done follow-up stood for, with the same people, so it counts toward cadence.

    Made by the acting person, who did what the follow-up asked. The follow-up is marked
    done if it was not yet. Once per follow-up: a second request (a double
    click) returns the touch the first one logged.
    """
    if not _may_act_on(follow_up, acting):
        raise PermissionDenied("Only the owner of this follow-up or an admin can log its touch.")
    if kind not in TouchKind.values or kind in NOT_CONTACT_KINDS:
        raise ValidationError({"kind": "Choose the kind of contact you made."})
    # The row lock queues a double click behind the first, which then finds its touch.
    logged_touch_id = (
        FollowUp.objects.select_for_update().values_list("logged_touch_id", flat=True).get(pk=follow_up.pk)
    )
    if logged_touch_id is not None:
        return Touch.objects.get(pk=logged_touch_id)
    came_from = follow_up.touch
    touch = touch_log(
        organization=follow_up.organization,
        made_by=acting.user,
        logged_by=acting.user,
        kind=kind,
        occurred_at=occurred_at,
        physician=came_from.physician,
        practice=came_from.practice,
        gatekeeper=came_from.gatekeeper,
        notes=notes,
    )
    follow_up.logged_touch = touch
    follow_up.completed_at = follow_up.completed_at or timezone.now()
    follow_up.save(update_fields=["logged_touch", "completed_at"])
    return touch


def followup_snooze(*, follow_up: FollowUp, acting: Membership, until: datetime.date) -> FollowUp:
    """Moves a follow-up to a later day, remembering the day it was first due."""
    if not _may_act_on(follow_up, acting):
        raise PermissionDenied("Only the owner of this follow-up or an admin can snooze it.")
    if follow_up.completed_at is not None:
        raise ValidationError("This follow-up is already done.")
    today = _owner_today(organization=follow_up.organization, owner_id=follow_up.owner_id)
    if until < today:
        raise ValidationError("Choose today or a later date to snooze to.")
    if until > follow_up_latest(today=today):
        raise ValidationError(follow_up_too_far_message(today=today))
    follow_up.snoozed_from = follow_up.snoozed_from or follow_up.due_on
    follow_up.due_on = until
    follow_up.full_clean()
    follow_up.save(update_fields=["due_on", "snoozed_from"])
    return follow_up


@transaction.atomic
def calendar_feed_reset(*, organization: Organization, user: User) -> str:
    """Replaces the user's calendar address with a new one and returns its secret token.

    Only the token's SHA-256 is stored, so the token can be shown this once
    and never again; the old address stops working at once.
    """
    # A double click resets twice: the person's membership row queues the second behind the first.
    Membership.objects.select_for_update().filter(organization=organization, user=user).exists()
    calendar_feed_revoke(organization=organization, user=user)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(organization=organization, user=user, token_digest=calendar_token_digest(token))
    feed.full_clean()
    feed.save()
    return token


def calendar_feed_revoke(*, organization: Organization, user: User) -> int:
    """Turns the user's calendar address off; returns how many live addresses it ended (0 or 1)."""
    return CalendarFeed.objects.filter(organization=organization, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def outreach_settings_update(
    *,
    organization: Organization,
    cadence_tier_a_days: int,
    cadence_tier_b_days: int,
    cadence_tier_c_days: int,
) -> OutreachSettings:
    cadences = outreach_settings_get(organization=organization)
    cadences.cadence_tier_a_days = cadence_tier_a_days
    cadences.cadence_tier_b_days = cadence_tier_b_days
    cadences.cadence_tier_c_days = cadence_tier_c_days
    cadences.full_clean(exclude=["organization"])  # the organization it was read for
    cadences.validate_together()
    cadences.save()
    return cadences


@register_membership_changed
def _calendar_access_changed(membership: Membership) -> None:
    """Leaving, or losing the outreach role, revokes the calendar address for good.

    Revoked, not merely refused while access is away: otherwise reactivation
    or the role coming back would make a secret that may have been shared
    meanwhile work again. Whoever comes back makes a new address.
    """
    if not membership.is_active or membership.role not in OUTREACH:
        calendar_feed_revoke(organization=membership.organization, user=membership.user)
