import hashlib

from django.contrib.auth.forms import PasswordResetForm

from clinics.models import Membership

from .services import email_enqueue


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's password reset, with the email queued in the outbox instead of sent during the request.

    It lives here rather than in `accounts`, which comes before tenancy and
    the outbox in the dependency order; config/urls.py wires it in.

    The email belongs to the organization of the user's first active
    membership (the one they land in after signing in); a user with none left
    cannot sign in, so gets no email, like an inactive user.
    """

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
