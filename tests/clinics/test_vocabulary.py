"""The population vocabulary outlives a flush: post_migrate brings back what is missing."""

import pytest
from django.core.management import call_command

from clinics.models import DEFAULT_POPULATIONS, Population


@pytest.mark.django_db(transaction=True)
def test_a_flush_brings_back_every_population():
    call_command("flush", interactive=False, verbosity=0)

    codes = set(Population.objects.values_list("code", flat=True))
    assert codes == {code for code, _, _ in DEFAULT_POPULATIONS}


@pytest.mark.django_db(transaction=True)
def test_a_population_renamed_by_an_operator_keeps_its_name_and_a_missing_one_comes_back():
    Population.objects.filter(code="sports").update(name="Sports medicine")
    Population.objects.filter(code="pediatric").delete()

    call_command("migrate", verbosity=0)

    assert Population.objects.get(code="sports").name == "Sports medicine"
    assert Population.objects.filter(code="pediatric").exists()
