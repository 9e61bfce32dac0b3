"""Who may change the directory; the views and the owner choices read this set."""

from clinics.models import Role

# Liaisons court the sources and keep their records; admins may do everything.
DIRECTORY_EDITORS = frozenset({Role.LIAISON, Role.ADMIN})
