"""Every answer to a signed-in person says `Cache-Control: private, no-store`, walked over every URL."""

import pytest
from django.urls import reverse

from clinics.models import Role

from .factories import ReferralDocumentFactory
from .test_url_isolation import NOT_OBJECT_URLS, iter_patterns, url_kwargs


def _every_url(organization) -> list[tuple[str, str]]:
    urls = []
    for name, pattern in iter_patterns():
        if name == "logout":  # would end the walk's session; tested on its own below
            continue
        keywords = set(pattern.pattern.converters)
        if name in NOT_OBJECT_URLS:
            kwargs = dict.fromkeys(keywords, "not-a-secret")
        else:
            kwargs = url_kwargs(keywords, organization)
        urls.append((name, reverse(name, kwargs=kwargs)))
    return urls


def _no_store(response) -> bool:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"private", "no-store"} <= directives


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_url_answers_a_signed_in_person_with_no_store(client, summit, member_factory, method):
    client.force_login(member_factory(summit, Role.ADMIN).user)

    cached = [
        f"{name} {url} {response.status_code} {response.get('Cache-Control')!r}"
        for name, url in _every_url(summit)
        if not _no_store(response := getattr(client, method)(url))
    ]

    assert not cached, "\n".join(cached)


def test_a_document_download_is_not_cached(client, summit, member_factory):
    document = ReferralDocumentFactory(organization=summit)
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)

    response = client.get(reverse("referrals:document", args=[document.referral_id, document.pk]))

    assert response.status_code == 200
    assert _no_store(response)


def test_the_sign_out_answer_and_a_refused_role_are_not_cached(client, summit, member_factory):
    client.force_login(member_factory(summit, Role.FRONT_DESK).user)

    assert _no_store(client.get(reverse("clinics:staff_list")))  # 403
    assert _no_store(client.post(reverse("logout")))
