"""Later apps hear of a membership's role or active state changing, inside the change's transaction."""

import pytest
from django.core.exceptions import ValidationError

from clinics import services
from clinics.models import Membership, Role


@pytest.fixture
def heard(monkeypatch):
    """Replaces the registered hooks with one that records what it was told, and in what state."""
    calls = []
    monkeypatch.setattr(services, "_membership_hooks", [])

    @services.register_membership_changed
    def record(membership: Membership) -> None:
        saved = Membership.objects.get(pk=membership.pk)
        calls.append((membership.pk, saved.role, saved.is_active))

    return calls


def test_every_change_of_role_or_active_state_is_heard_once_saved(
    heard, summit_admin, member_factory, summit
):
    colleague = member_factory(summit, Role.LIAISON)

    services.membership_update(
        membership=colleague, acting_user=summit_admin.user, role=Role.FRONT_DESK, home_clinic=None
    )
    services.membership_deactivate(membership=colleague, acting_user=summit_admin.user)
    services.membership_reactivate(membership=colleague)

    assert heard == [
        (colleague.pk, Role.FRONT_DESK, True),
        (colleague.pk, Role.FRONT_DESK, False),
        (colleague.pk, Role.FRONT_DESK, True),
    ]


def test_a_failing_hook_undoes_the_change(monkeypatch, summit_admin, member_factory, summit):
    """The hook runs inside the change's transaction: what the old access granted is withdrawn
    with the access, or the change does not happen."""
    colleague = member_factory(summit, Role.LIAISON)
    monkeypatch.setattr(services, "_membership_hooks", [])

    @services.register_membership_changed
    def fail(membership: Membership) -> None:
        raise RuntimeError("could not revoke")

    with pytest.raises(RuntimeError):
        services.membership_deactivate(membership=colleague, acting_user=summit_admin.user)

    colleague.refresh_from_db()
    assert colleague.is_active


def test_a_refused_change_is_not_announced(heard, summit_admin):
    with pytest.raises(ValidationError):
        services.membership_deactivate(membership=summit_admin, acting_user=summit_admin.user)

    assert heard == []
