"""The typed inputs of the services that create or update a row.

Such a service takes one frozen dataclass of the fields it sets (`ClinicFields`,
`PhysicianFields`, `ReferralDetails`, ...), so its signature says what it
accepts and the type checker checks every caller; a field the model does not
have cannot be passed. Forms build the dataclass from their cleaned data by
name, and list the same names as their fields.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any, Self

from django.db.models import Model


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelFields:
    """Base of a service's inputs: each attribute is a model field of the same name."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def from_cleaned_data(cls, cleaned_data: Mapping[str, Any]) -> Self:
        """The fields of a valid form's `cleaned_data` that these inputs name; its other fields are left."""
        values: dict[str, Any] = {name: cleaned_data[name] for name in cls.names()}
        return cls(**values)

    @classmethod
    def of(cls, instance: Model) -> Self:
        """The fields as `instance` has them: `dataclasses.replace(X.of(row), tier="A")` changes one."""
        values: dict[str, Any] = {name: getattr(instance, name) for name in cls.names()}
        return cls(**values)

    def assign_to(self, instance: Model) -> None:
        for name in self.names():
            setattr(instance, name, getattr(self, name))
