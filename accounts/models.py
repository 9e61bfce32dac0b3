from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A member of staff. Roles belong to memberships (clinics.Membership), not here."""

    def __str__(self) -> str:
        return self.get_full_name() or self.username
