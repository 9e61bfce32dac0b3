from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from clinics.clock import current_today
from clinics.form_pages import StyledForm
from clinics.models import Organization, Role
from config.text import validate_multi_line

from .instruments import INSTRUMENTS, Instrument
from .models import NoteKind
from .services import CareNoteFields, NpsEntry, ScoreEntry

NPS_CHOICES = [("", "—"), *((str(n), str(n)) for n in range(11))]
COMMENT_MAX_LENGTH = 2000


def score_field_name(measure: Instrument) -> str:
    return f"score_{measure.code}"


def item_field_name(measure: Instrument, number: int) -> str:
    return f"items_{measure.code}_{number}"


class ScoreField(forms.DecimalField):
    """A total of one instrument, refused in the instrument's own words when out of its range."""

    def __init__(self, measure: Instrument, **kwargs):
        self.measure = measure
        step = Decimal(1).scaleb(-measure.decimal_places)
        super().__init__(
            required=False,
            label=measure.name,
            help_text=f"{measure.range_label}, {measure.better} is better",
            widget=forms.NumberInput(
                attrs={"min": measure.minimum, "max": measure.maximum, "step": step, "inputmode": "decimal"}
            ),
            **kwargs,
        )

    def validate(self, value):
        super().validate(value)
        if value is not None:
            self.measure.check_score(value)


def _past_or_today(value):
    if value and value > current_today():
        raise ValidationError("The date cannot be in the future.")


class CareNoteForm(StyledForm, forms.Form):
    """The quick form: the note, the scores of its phase, and at discharge the NPS.

    Score fields come from the instrument registry, one per instrument; an
    instrument scored by items (QuickDASH) also gets a field per item.
    """

    noted_on = forms.DateField(
        label="Date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[_past_or_today],
    )
    therapist = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    findings = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=5000, validators=[validate_multi_line]
    )
    plan = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        required=False,
        validators=[validate_multi_line],
    )
    nps_score = forms.TypedChoiceField(
        label="How likely is the patient to recommend us (0–10)?",
        choices=NPS_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )
    nps_comment = forms.CharField(
        label="Their comment",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=COMMENT_MAX_LENGTH,
        required=False,
        validators=[validate_multi_line],
    )
    move_referral = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, organization: Organization, kind: str, move_to: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = NoteKind(kind)
        self.fields["therapist"].queryset = User.objects.filter(
            memberships__organization=organization,
            memberships__role__in=[Role.THERAPIST, Role.ADMIN],
            memberships__is_active=True,
        ).order_by("last_name", "first_name", "username")
        self.fields["findings"].label = {
            NoteKind.EVALUATION: "Findings",
            NoteKind.PROGRESS: "Progress",
            NoteKind.DISCHARGE: "Status at discharge",
        }[self.kind]
        self.fields["plan"].label = {
            NoteKind.EVALUATION: "Plan of care",
            NoteKind.PROGRESS: "Plan from here",
            NoteKind.DISCHARGE: "Recommendations and home program",
        }[self.kind]
        if self.kind != NoteKind.DISCHARGE:
            del self.fields["nps_score"]
            del self.fields["nps_comment"]
        if move_to is None:
            del self.fields["move_referral"]
        else:
            self.fields["move_referral"].label = f"Also mark the referral {move_to}"
        for measure in INSTRUMENTS:
            self.fields[score_field_name(measure)] = ScoreField(measure)
            if measure.items is not None:
                item_choices = [("", "—")] + [
                    (str(n), str(n))
                    for n in range(measure.items.item_minimum, measure.items.item_maximum + 1)
                ]
                for number in range(1, measure.items.count + 1):
                    self.fields[item_field_name(measure, number)] = forms.TypedChoiceField(
                        label=f"{measure.name} item {number}",
                        choices=item_choices,
                        coerce=int,
                        empty_value=None,
                        required=False,
                    )
        # Whether items were typed: their section opens again when the form comes back with an error.
        self.items_open = False

    def score_fields(self):
        return [self[score_field_name(measure)] for measure in INSTRUMENTS]

    def item_groups(self):
        """(instrument, its item fields) for each instrument that can be typed item by item."""
        return [
            (measure, [self[item_field_name(measure, n)] for n in range(1, measure.items.count + 1)])
            for measure in INSTRUMENTS
            if measure.items is not None
        ]

    def clean(self):
        cleaned = super().clean() or {}
        entries = []
        for measure in INSTRUMENTS:
            total = cleaned.get(score_field_name(measure))
            items: tuple[int | None, ...] = ()
            if measure.items is not None:
                answers = tuple(
                    cleaned.get(item_field_name(measure, n)) for n in range(1, measure.items.count + 1)
                )
                if any(answer is not None for answer in answers):
                    self.items_open = True
                    items = answers
            if items and total is not None:
                self.add_error(
                    score_field_name(measure), f"Type the {measure.name} total or its items, not both."
                )
                continue
            if items:
                try:
                    measure.score_from_items(list(items))
                except ValidationError as error:
                    self.add_error(score_field_name(measure), error)
                    continue
            if items or total is not None:
                entries.append(ScoreEntry(instrument=measure.code, score=total, items=items))
        self.entries = entries
        if cleaned.get("nps_comment") and cleaned.get("nps_score") is None:
            self.add_error("nps_score", "Choose the score the comment goes with.")
        return cleaned

    def note_fields(self) -> CareNoteFields:
        return CareNoteFields(
            kind=self.kind,
            noted_on=self.cleaned_data["noted_on"],
            therapist=self.cleaned_data["therapist"],
            findings=self.cleaned_data["findings"],
            plan=self.cleaned_data["plan"],
        )

    def score_entries(self) -> list[ScoreEntry]:
        return self.entries

    def nps_entry(self) -> NpsEntry | None:
        score = self.cleaned_data.get("nps_score")
        return (
            None if score is None else NpsEntry(score=score, comment=self.cleaned_data.get("nps_comment", ""))
        )


class NpsForm(StyledForm, forms.Form):
    """The patient's answer, typed by staff (asked on the phone or on paper)."""

    score = forms.TypedChoiceField(
        label="How likely is the patient to recommend us to a friend or colleague (0–10)?",
        choices=NPS_CHOICES,
        coerce=int,
        empty_value=None,
    )
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=COMMENT_MAX_LENGTH,
        required=False,
        validators=[validate_multi_line],
    )
    answered_on = forms.DateField(
        label="Answered on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        validators=[_past_or_today],
    )

    def entry(self) -> NpsEntry:
        return NpsEntry(score=self.cleaned_data["score"], comment=self.cleaned_data["comment"])


class SurveyForm(StyledForm, forms.Form):
    """The patient's own page: the question, ten-and-one buttons, an optional comment."""

    score = forms.TypedChoiceField(
        label="How likely are you to recommend us to a friend or colleague?",
        choices=[(str(n), str(n)) for n in range(11)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a number from 0 to 10."},
    )
    comment = forms.CharField(
        label="Anything you would like to tell us? (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=COMMENT_MAX_LENGTH,
        required=False,
        validators=[validate_multi_line],
    )

    def entry(self) -> NpsEntry:
        return NpsEntry(score=self.cleaned_data["score"], comment=self.cleaned_data["comment"])
