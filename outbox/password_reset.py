"""Password reset: asked for by username, limited, linked from SITE_URL, queued in the outbox.

1. The form asks for the username, not the email address. An address can be
   shared (another organization may give one of its accounts the same
   address, and refusing it would tell that it exists), so a reset by address
   would mail every account that has it and log that email in each of their
   organizations. By username, a reset concerns one account and appears only
   in the email log of that account's own organization.
2. Requests are limited per account (RESET_LIMIT_PER_ACCOUNT an hour) and
   per client address (RESET_LIMIT_PER_CLIENT an hour), counted atomically
   in Django's cache. Past a limit the page answers exactly as it does when
   an email was queued, or when the account does not exist.
3. The link is built from SITE_URL, never from the request's Host header.
4. The email is queued in the outbox instead of sent during the request.

It lives here rather than in `accounts`, which comes before tenancy and the
outbox in the dependency order; config/urls.py wires it in.
"""

import hashlib
from urllib.parse import urlsplit

from axes.helpers import get_client_ip_address
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.views import PasswordResetView
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from clinics.links import site_url
from clinics.models import Membership
from config.text import SingleLineField

from .services import email_enqueue

RESET_LIMIT_PER_ACCOUNT = 3
RESET_LIMIT_PER_CLIENT = 10
RESET_LIMIT_WINDOW_SECONDS = 60 * 60


def within_limit(key: str, *, limit: int, window: int) -> bool:
    """Counts one more request under `key`; False once more than `limit` came in this window.

    `add` starts the window only if none is open and `incr` is atomic, in
    Redis and in the local-memory cache, so concurrent requests each count.
    """
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.add(key, 1, timeout=window)
        count = 1
    return count <= limit


def _key(kind: str, value: str) -> str:
    return f"password-reset:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def password_reset_allowed(*, username: str, client: str) -> bool:
    """Whether a reset for `username` asked from `client` may be sent; every request counts."""
    by_client = within_limit(
        _key("client", client), limit=RESET_LIMIT_PER_CLIENT, window=RESET_LIMIT_WINDOW_SECONDS
    )
    by_account = within_limit(
        _key("account", username), limit=RESET_LIMIT_PER_ACCOUNT, window=RESET_LIMIT_WINDOW_SECONDS
    )
    return by_client and by_account


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's password reset, by username, with the email queued in the outbox.

    The email belongs to the organization of the user's first active
    membership (the one they land in after signing in); a user with none left
    cannot sign in, so gets no email, like an inactive user.
    """

    email = None  # type: ignore[assignment]  # Django's way to drop a parent's field
    username = SingleLineField(
        max_length=150,
        help_text="The name you sign in with, such as summit.jdoe.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )

    def get_users(self, username: str):
        """The active account with this exact username, if it has an address to write to."""
        return [
            user
            for user in get_user_model()._default_manager.filter(username=username, is_active=True)
            if user.has_usable_password() and user.email
        ]

    # The parent's options are accepted and ignored (see below), hence the narrower signature.
    def save(  # type: ignore[override]
        self, *, token_generator=default_token_generator, extra_email_context=None, **_
    ) -> None:
        """Queues the reset email of the account named, with its link built from SITE_URL.

        The view's other options (the request, whether it came over HTTPS,
        template names) are ignored: the request's host and scheme are the
        client's to write, and the outbox names its own templates.
        """
        site = urlsplit(settings.SITE_URL)
        for user in self.get_users(self.cleaned_data["username"]):
            uid = urlsafe_base64_encode(force_bytes(user.pk))
            token = token_generator.make_token(user)
            path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
            context = {
                "email": user.email,
                "domain": site.netloc,
                "site_name": site.netloc,
                "protocol": site.scheme,
                "uid": uid,
                "user": user,
                "token": token,
                "reset_url": site_url(path),
                **(extra_email_context or {}),
            }
            self.send_mail(None, None, context, None, user.email)

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ) -> None:
        user = context["user"]
        membership = (
            Membership.objects.filter(user=user, is_active=True)
            .select_related("organization")
            .order_by("organization__name")
            .first()
        )
        if membership is None:
            return
        # One email per token: the token changes with every request a second
        # apart, and a double-submitted form within that second sends once.
        token_digest = hashlib.sha256(context["token"].encode()).hexdigest()[:32]
        email_enqueue(
            organization=membership.organization,
            kind="password_reset",
            idempotency_key=f"password_reset:{user.pk}:{token_digest}",
            to=to_email,
            template="registration/password_reset",
            context=context,
            confidential=True,
        )


class OutboxPasswordResetView(PasswordResetView):
    """Asks for a reset; within the limits, queues it. The answer is the same in every case."""

    form_class = OutboxPasswordResetForm

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        allowed = password_reset_allowed(
            username=form.cleaned_data["username"],
            client=get_client_ip_address(self.request) or "unknown",
        )
        if allowed:
            return super().form_valid(form)
        return HttpResponseRedirect(self.get_success_url())
