import pytest

from clinics.models import Role


@pytest.fixture
def liaison(summit, member_factory):
    """A liaison of Summit: the person who runs outreach in most of these tests."""
    return member_factory(summit, Role.LIAISON)
