import pytest

from clinics.models import Role
from digests.models import DigestPreference

from ..factories import MembershipFactory


@pytest.fixture
def make_member(summit):
    """A member of Summit (or `organization`) with an email address, in Denver unless told."""

    def make(role=Role.THERAPIST, organization=None, **kwargs):
        return MembershipFactory(organization=organization or summit, role=role, **kwargs)

    return make


def preference_of(membership) -> DigestPreference:
    return DigestPreference.objects.get(membership=membership)
