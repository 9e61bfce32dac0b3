from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, ForeignObjectRel, Model, OuterRef
from django.utils import timezone

from accounts.models import User
from clinics.history import history_record_bulk, is_history_model, is_tracked
from clinics.inputs import ModelFields
from clinics.models import Organization, Payer, Population, TenantModel
from clinics.phones import PhoneValue

from .models import (
    Affiliation,
    ContactMethod,
    Gatekeeper,
    Physician,
    Practice,
    Stage,
    StageChange,
    Tier,
    UpdateChannel,
    UpdateRhythm,
)


@dataclass(frozen=True, kw_only=True)
class PhysicianFields(ModelFields):
    """What the directory records about a physician; the defaults are a new record's."""

    npi: str = ""
    prefix: str = ""
    first_name: str
    middle_name: str = ""
    last_name: str
    credential: str = ""
    taxonomy_code: str = ""
    phone: PhoneValue = ""
    email: str = ""
    update_channel: str = UpdateChannel.FAX
    update_rhythm: str = UpdateRhythm.AFTER_EVALUATION
    what_matters: str = ""
    tier: str = Tier.C
    contact_every_days: int | None = None
    owner: User | None = None


@dataclass(frozen=True, kw_only=True)
class PracticeFields(ModelFields):
    name: str
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: PhoneValue = ""
    fax: PhoneValue = ""
    website: str = ""
    notes: str = ""


@dataclass(frozen=True, kw_only=True)
class GatekeeperFields(ModelFields):
    first_name: str
    last_name: str = ""
    role: str
    phone: PhoneValue = ""
    extension: str = ""
    email: str = ""
    preferred_contact: str = ContactMethod.PHONE
    notes: str = ""
    is_active: bool = True


PHYSICIAN_FIELDS = PhysicianFields.names()
PRACTICE_FIELDS = PracticeFields.names()
GATEKEEPER_FIELDS = GatekeeperFields.names()


def _check_same_organization(organization: Organization, *objects: TenantModel | None) -> None:
    for obj in objects:
        if obj is not None and obj.organization_id != organization.pk:
            raise ValidationError("That record belongs to another organization.")


def _save_validated(instance: Model) -> None:
    instance.full_clean()
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as error:  # a concurrent save won the unique check
        raise ValidationError("Someone saved the same record a moment ago; reload and check.") from error


# Later apps keep their own rows about physicians (outreach's flags) and must
# hear when a physician changes or is merged, without this app importing
# them: they register here when they load.
PhysicianHook = Callable[[Physician], None]
MergeHook = Callable[[Physician, Physician], None]
_change_hooks: list[PhysicianHook] = []
_merge_hooks: list[MergeHook] = []


def register_physician_changed(hook: PhysicianHook) -> PhysicianHook:
    """Calls `hook(physician)` after the commit of any change to a physician; a failing hook fails no save."""
    if hook not in _change_hooks:
        _change_hooks.append(hook)
    return hook


def register_physician_merging(hook: MergeHook) -> MergeHook:
    """Calls `hook(keep, duplicate)` inside a merge, before the duplicate's rows move to `keep`."""
    if hook not in _merge_hooks:
        _merge_hooks.append(hook)
    return hook


def _physician_changed(physician: Physician) -> None:
    for hook in _change_hooks:
        transaction.on_commit(partial(hook, physician), robust=True)


@transaction.atomic
def physician_save(
    *,
    organization: Organization,
    user: User | None,
    physician: Physician | None = None,
    fields: PhysicianFields,
    practices: list[Practice] | None = None,
    primary_practice: Practice | None = None,
) -> Physician:
    """Creates or updates a physician; with `practices`, also sets where they work."""
    creating = physician is None
    physician = physician or Physician(organization=organization)
    _check_same_organization(organization, physician, primary_practice, *(practices or []))
    fields.assign_to(physician)
    _save_validated(physician)
    if creating:
        StageChange.objects.create(
            organization=organization,
            physician=physician,
            to_stage=physician.stage,
            changed_by=user,
            changed_at=timezone.now(),
            note="Added to the directory",
        )
    if practices is not None:
        affiliations_set(physician=physician, practices=practices, primary=primary_practice)
    _physician_changed(physician)
    return physician


def affiliations_set(*, physician: Physician, practices: list[Practice], primary: Practice | None) -> None:
    primary = primary or (practices[0] if practices else None)
    if primary is not None and primary not in practices:
        practices = [primary, *practices]
    Affiliation.objects.filter(physician=physician).exclude(practice__in=practices).delete()
    Affiliation.objects.filter(physician=physician).update(is_primary=False)
    existing = set(Affiliation.objects.filter(physician=physician).values_list("practice_id", flat=True))
    Affiliation.objects.bulk_create(
        Affiliation(organization_id=physician.organization_id, physician=physician, practice=practice)
        for practice in practices
        if practice.pk not in existing
    )
    if primary is not None:
        Affiliation.objects.filter(physician=physician, practice=primary).update(is_primary=True)


@transaction.atomic
def physician_change_stage(*, physician: Physician, user: User, stage: str, note: str = "") -> Physician:
    physician = Physician.objects.select_for_update().get(pk=physician.pk)
    if stage not in Stage.values:
        raise ValidationError(f"“{stage}” is not a relationship stage.")
    if stage == physician.stage:
        return physician
    StageChange.objects.create(
        organization_id=physician.organization_id,
        physician=physician,
        from_stage=physician.stage,
        to_stage=stage,
        changed_by=user,
        changed_at=timezone.now(),
        note=note,
    )
    physician.stage = stage
    physician.save(update_fields=["stage", "updated_at", "search_text"])
    _physician_changed(physician)
    return physician


@transaction.atomic
def physician_set_active(*, physician: Physician, active: bool) -> Physician:
    physician.is_active = active
    physician.save(update_fields=["is_active", "updated_at", "search_text"])
    _physician_changed(physician)
    return physician


def related_rows_move(*, keep: Model, duplicate: Model) -> None:
    """Points every row that references `duplicate` at `keep`, its record of the same kind.

    Written for any model (a physician; a practice, should practices come to be
    merged), inside the caller's transaction:

    1. The relations come from the model registry with hidden ones included:
       a foreign key declared with `related_name="+"` (a plan of care's
       certifier), a one-to-one, and the rows of many-to-many tables (a
       practice's payers), whether or not the table is declared. A relation
       added later is moved without changing this function.
    2. A row that would repeat, on one of its model's unconditional unique
       keys, a row `keep` already has (the same practice twice, the same
       payer twice, a second one-to-one) is deleted instead of moved.
    3. A unique constraint with a condition (one primary affiliation, one
       open flag of each kind) is the caller's to resolve first, as
       `physician_merge` and its hooks do.
    4. Change history is left as it was written (it tells what the rows said
       then); a moved row of a tracked model (a referral, a touch) gets a
       history row saying it now points at `keep`.
    """
    for relation in type(keep)._meta.get_fields(include_hidden=True):
        if not isinstance(relation, ForeignObjectRel) or relation.many_to_many:
            continue  # not a relation to this model, or a many-to-many: its table's foreign key is listed too
        field = relation.field
        if not field.concrete:
            continue  # a composite relation over columns whose own foreign key is listed too
        if is_history_model(relation.related_model):
            continue
        rows = relation.related_model._base_manager
        for key in _unique_keys(relation.related_model):
            if field.name in key:
                already_kept = rows.filter(
                    **{field.name: keep}, **{name: OuterRef(name) for name in key if name != field.name}
                )
                rows.filter(Exists(already_kept), **{field.name: duplicate}).delete()
        moving = rows.filter(**{field.name: duplicate})
        moved = list(moving) if is_tracked(relation.related_model) else []
        moving.update(**{field.name: keep})
        for row in moved:
            setattr(row, field.attname, keep.pk)
        history_record_bulk(moved, user=None)


def _unique_keys(model: type[Model]) -> list[tuple[str, ...]]:
    """The field names of each unique key that holds for every row of `model` (no condition)."""
    meta = model._meta
    keys: list[tuple[str, ...]] = [
        (field.name,) for field in meta.concrete_fields if field.unique and not field.primary_key
    ]
    keys += [tuple(names) for names in meta.unique_together]
    keys += [tuple(constraint.fields) for constraint in meta.total_unique_constraints]
    return keys


@transaction.atomic
def physician_merge(*, organization: Organization, keep: Physician, duplicate: Physician) -> Physician:
    """Folds `duplicate` into `keep` and deletes it.

    1. Apps that registered a merge hook prepare their rows (outreach closes
       the duplicate's open flags, which may exist only once per physician).
    2. If `keep` has a primary practice, the duplicate's is no longer primary.
    3. Every row that points at the duplicate (affiliations, stage history and
       whatever later apps attach: referrals, plans of care it certified,
       touches) is moved to `keep` by `related_rows_move`; an affiliation
       `keep` already has is dropped rather than duplicated.
    4. Blank fields of `keep` are filled from the duplicate.
    """
    _check_same_organization(organization, keep, duplicate)
    if keep.pk == duplicate.pk:
        raise ValidationError("Choose two different physicians to merge.")
    # The lock later apps' organization-wide jobs take (outreach's flags), so a
    # merge never lands in the middle of one.
    Organization.objects.select_for_update(no_key=True).filter(pk=organization.pk).exists()
    keep = Physician.objects.select_for_update().get(pk=keep.pk)
    duplicate = Physician.objects.select_for_update().get(pk=duplicate.pk)
    for hook in _merge_hooks:
        hook(keep, duplicate)

    if keep.affiliations.filter(is_primary=True).exists():
        duplicate.affiliations.update(is_primary=False)
    related_rows_move(keep=keep, duplicate=duplicate)

    for name in PHYSICIAN_FIELDS:
        if getattr(keep, name) in ("", None) and getattr(duplicate, name) not in ("", None):
            setattr(keep, name, getattr(duplicate, name))
    # The duplicate goes first: its NPI may be the one `keep` just took over.
    duplicate.delete()
    keep.full_clean()
    keep.save()
    _physician_changed(keep)
    return keep


@transaction.atomic
def practice_save(
    *,
    organization: Organization,
    practice: Practice | None = None,
    fields: PracticeFields,
    populations: Iterable[Population] | None = None,
    payers: Iterable[Payer] | None = None,
) -> Practice:
    practice = practice or Practice(organization=organization)
    payers = list(payers) if payers is not None else None
    _check_same_organization(organization, practice, *(payers or []))
    fields.assign_to(practice)
    _save_validated(practice)
    if populations is not None:
        practice.populations.set(populations)
    if payers is not None:
        practice.payers.set(payers)
    return practice


def practice_set_active(*, practice: Practice, active: bool) -> Practice:
    practice.is_active = active
    practice.save(update_fields=["is_active", "location_key", "search_text"])
    return practice


def gatekeeper_save(
    *,
    organization: Organization,
    practice: Practice,
    gatekeeper: Gatekeeper | None = None,
    fields: GatekeeperFields,
) -> Gatekeeper:
    gatekeeper = gatekeeper or Gatekeeper(organization=organization, practice=practice)
    _check_same_organization(organization, practice, gatekeeper)
    fields.assign_to(gatekeeper)
    _save_validated(gatekeeper)
    return gatekeeper
