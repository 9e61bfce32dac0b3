from django.urls import reverse

from clinics.models import Payer, Population, ServiceOffering

from ..factories import ClinicFactory, PayerFactory


def test_admin_adds_a_payer_and_a_duplicate_name_is_explained(admin_client, summit):
    admin_client.post(
        reverse("clinics:payer_create"), {"name": "Aetna", "category": "commercial", "is_active": "on"}
    )
    response = admin_client.post(
        reverse("clinics:payer_create"), {"name": "Aetna", "category": "commercial", "is_active": "on"}
    )

    assert Payer.objects.filter(organization=summit, name="Aetna").count() == 1
    assert "already exists" in response.content.decode()


def test_clinic_accepts_only_its_own_organizations_payers(admin_client, summit, harbor, summit_clinic):
    own = PayerFactory(organization=summit)
    foreign = PayerFactory(organization=harbor)
    data = {"name": summit_clinic.name, "timezone": "America/Denver", "is_active": "on"}

    refused = admin_client.post(
        reverse("clinics:edit", args=[summit_clinic.pk]), {**data, "payers": [foreign.pk]}
    )
    assert "payers" in refused.context["form"].errors

    admin_client.post(reverse("clinics:edit", args=[summit_clinic.pk]), {**data, "payers": [own.pk]})
    assert list(summit_clinic.payers.all()) == [own]


def test_service_offering_records_the_populations_it_serves(admin_client, summit, summit_clinic):
    sports = Population.objects.get(code="sports")

    admin_client.post(
        reverse("clinics:service_create"),
        {"clinic": summit_clinic.pk, "name": "Sports rehab", "populations": [sports.pk], "is_active": "on"},
    )

    offering = ServiceOffering.objects.get(name="Sports rehab")
    assert (offering.organization, list(offering.populations.all())) == (summit, [sports])


def test_service_for_another_organizations_clinic_is_refused(admin_client, harbor):
    response = admin_client.post(
        reverse("clinics:service_create"),
        {"clinic": ClinicFactory(organization=harbor).pk, "name": "Sneaky", "is_active": "on"},
    )

    assert "clinic" in response.context["form"].errors
    assert not ServiceOffering.objects.exists()


def test_clinic_with_a_bad_time_zone_is_refused(admin_client):
    response = admin_client.post(reverse("clinics:create"), {"name": "New", "timezone": "Mars/Olympus"})

    assert "timezone" in response.context["form"].errors


def test_payer_and_service_lists_run_constant_queries(admin_client, summit, django_assert_max_num_queries):
    for index in range(20):
        clinic = ClinicFactory(organization=summit)
        clinic.payers.add(PayerFactory(organization=summit))
        ServiceOffering.objects.create(organization=summit, clinic=clinic, name=f"S{index}").populations.set(
            Population.objects.all()[:2]
        )

    for url_name in ("clinics:payer_list", "clinics:service_list", "clinics:list"):
        with django_assert_max_num_queries(8):
            assert admin_client.get(reverse(url_name)).status_code == 200
