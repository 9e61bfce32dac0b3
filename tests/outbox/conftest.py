from pathlib import Path

import pytest

from .mailers import ScriptedBackend

HERE = Path(__file__).parent


@pytest.fixture
def email_templates(settings):
    """Adds tests/outbox/templates, whose outbox_test/announcement_* stand in for an app's email."""
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [HERE / "templates", *settings.TEMPLATES[0]["DIRS"]]},
    ]


@pytest.fixture
def scripted_mailer(settings):
    """MAILERS pointed at ScriptedBackend; returns the class, whose `script` the test fills."""
    settings.MAILERS = {"default": {"BACKEND": "tests.outbox.mailers.ScriptedBackend"}}
    ScriptedBackend.script = []
    ScriptedBackend.refuse_connections = False
    ScriptedBackend.delay = 0.0
    yield ScriptedBackend
    ScriptedBackend.script = []
    ScriptedBackend.refuse_connections = False
    ScriptedBackend.delay = 0.0
