from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error


def test_unknown_page_is_a_friendly_404(admin_client):
    response = admin_client.get("/no-such-page/")

    assert response.status_code == 404
    assert b"We could not find that page" in response.content
    assert b"Go to the home page" in response.content


def test_forbidden_page_explains_the_role(client, summit_front_desk):
    client.force_login(summit_front_desk.user)

    response = client.get(reverse("clinics:staff_list"))

    assert response.status_code == 403
    assert b"Your role does not give access to this page." in response.content


def test_server_error_page_renders_without_a_request_context(db):
    response = server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content


def test_healthz_answers_when_the_database_does(client, db):
    response = client.get(reverse("healthz"))

    assert response.json() == {"status": "ok"}
