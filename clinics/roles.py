"""Which roles may do what: each set is named once here or in its app's own `roles` module.

Views declare the roles that may open a page with `@staff_view(roles=...)`;
services that have a rule about who may do what take the acting person's
`Membership` and check it with `acts_as`, so every caller (a view, a command,
a test) meets the same rule and gets `PermissionDenied`, which Django answers
with a 403 and a form turns into its error.
"""

from .models import Membership, Role

ALL_ROLES = frozenset(Role.values)
ADMINS = frozenset({Role.ADMIN})


def acts_as(acting: Membership, roles: frozenset[str], *, organization_id: int) -> bool:
    """Whether `acting` is an active membership of that organization with one of `roles`."""
    return acting.is_active and acting.organization_id == organization_id and acting.role in roles
