"""Ids a person sends (query string, form, hidden input): a bad one is a 400 or a form error, never a 500.

1. `id_from_input(raw)` is the one parser of an id read from GET or POST by
   hand: ASCII digits within the range every primary key can hold, else None.
   `str.isdigit` alone is not enough: it accepts "²", which int() refuses.
2. Model choice fields and views look ids up with `pk=`, `pk__in=` and
   foreign keys (`organization_id=`). Django answers "no such row" for an
   out-of-range `pk=`, but passes an out-of-range `pk__in=` or foreign-key
   value to the database, where SQLite raises OverflowError (a 500). The
   lookups below treat such values as Django's own `pk=` does: no row can
   have them, on any backend. Registered on IntegerField and ForeignKey,
   they cover every model choice field and every query of the project.
"""

from django.core.exceptions import EmptyResultSet
from django.db.models import ForeignKey, IntegerField
from django.db.models.fields.related_lookups import RelatedExact, RelatedIn
from django.db.models.lookups import In, Lookup

# The range of a 64-bit signed integer, the widest primary key any backend stores.
ID_MIN, ID_MAX = -(2**63), 2**63 - 1


def id_from_input(raw: object) -> int | None:
    """The id in `raw` (a string from a request), or None when no row could have it."""
    text = str(raw).strip() if raw is not None else ""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= ID_MAX else None


class _IdRange(Lookup):
    """Knows whether a value fits the integer column the lookup compares it with."""

    def _fits(self, value, connection) -> bool:
        field = self.lhs.output_field
        field = getattr(field, "target_field", field)  # a foreign key's column is its target's type
        if not isinstance(value, int) or not isinstance(field, IntegerField):
            return True
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        return (low is None or value >= low) and (high is None or value <= high)


class _InWithinRange(_IdRange):
    """`field__in=[...]` without the values no row can hold."""

    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value():
            self.rhs = [value for value in self.rhs if self._fits(value, connection)]
        return super().process_rhs(compiler, connection)


@IntegerField.register_lookup
class IntegerFieldIn(_InWithinRange, In):
    pass


@ForeignKey.register_lookup
class ForeignKeyIn(_InWithinRange, RelatedIn):
    pass


@ForeignKey.register_lookup
class ForeignKeyExact(_IdRange, RelatedExact):
    """`foreign_key=value` for a value no row can hold matches nothing, as `pk=value` does."""

    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value() and not self._fits(self.rhs, connection):
            raise EmptyResultSet
        return super().process_rhs(compiler, connection)
