import pytest
import time_machine

from clinics.models import Role

from ..factories import ClinicFactory


@pytest.fixture
def desk(client, summit, member_factory):
    """A front-desk client of Summit, with its clinic and user."""
    clinic = ClinicFactory(organization=summit, timezone="America/Denver")
    membership = member_factory(summit, Role.FRONT_DESK, home_clinic=clinic)
    client.force_login(membership.user)
    client.clinic = clinic
    client.user = membership.user
    return client


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded files go to a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def pinned(request):
    """The clock stopped at the test module's `NOW` (a module marks its tests with it)."""
    with time_machine.travel(request.module.NOW, tick=False):
        yield
