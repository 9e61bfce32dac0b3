from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models

from clinics.history import TenantHistoricalRecords
from clinics.models import TenantModel
from referrals.models import Referral

from .instruments import Instrument, instrument, number


class Phase(models.TextChoices):
    INTAKE = "intake", "Intake"
    PROGRESS = "progress", "Progress"
    DISCHARGE = "discharge", "Discharge"


class NoteKind(models.TextChoices):
    EVALUATION = "evaluation", "Evaluation"
    PROGRESS = "progress", "Progress note"
    DISCHARGE = "discharge", "Discharge"


# The scores recorded with each kind of note: intake scores go with the evaluation.
NOTE_PHASE = {
    NoteKind.EVALUATION: Phase.INTAKE,
    NoteKind.PROGRESS: Phase.PROGRESS,
    NoteKind.DISCHARGE: Phase.DISCHARGE,
}
# An episode of care has one evaluation and one discharge, and as many progress notes as it takes.
ONCE_PER_REFERRAL = (NoteKind.EVALUATION, NoteKind.DISCHARGE)


class CareNote(TenantModel):
    """A therapist's evaluation, progress note or discharge: what they found and what comes next.

    The outcome letters to the referring physician are composed from these.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=NoteKind.choices)
    noted_on = models.DateField("date")
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    findings = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["noted_on", "pk"]
        indexes = [
            models.Index(fields=["organization", "referral", "noted_on"], name="outcomes_note_org_ref"),
            # The letters' sweep reads the notes recorded since its last run, every 30 s.
            models.Index(fields=["organization", "created_at"], name="outcomes_note_org_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "referral", "kind"],
                condition=models.Q(kind__in=ONCE_PER_REFERRAL),
                name="outcomes_note_one_evaluation_one_discharge",
                violation_error_message="This referral already has a note of that kind.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.noted_on:%Y-%m-%d}"


class OutcomeScore(TenantModel):
    """One outcome measure taken on a day at one phase of care: an instrument of outcomes/instruments.py.

    `items` holds the answers when the score was typed item by item (QuickDASH),
    None for an item left blank; empty when the total was typed.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="+")
    care_note = models.ForeignKey(
        CareNote, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    instrument = models.CharField(max_length=20)
    phase = models.CharField(max_length=20, choices=Phase.choices)
    score = models.DecimalField(max_digits=6, decimal_places=2)
    items = models.JSONField(default=list, blank=True)
    taken_on = models.DateField("date")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["taken_on", "pk"]
        indexes = [
            models.Index(
                fields=["organization", "referral", "instrument", "taken_on"], name="outcomes_score_org_ref"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "referral", "instrument", "phase"],
                condition=models.Q(phase__in=[Phase.INTAKE, Phase.DISCHARGE]),
                name="outcomes_score_one_intake_one_discharge",
                violation_error_message="This referral already has a score of that measure for that phase.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.score} ({self.phase})"

    @property
    def measure(self) -> Instrument:
        return instrument(self.instrument)

    @property
    def score_label(self) -> str:
        """As people write it: 18, not 18.00."""
        return number(self.score)

    def clean(self) -> None:
        measure = instrument(self.instrument)
        if self.score is not None:
            try:
                measure.check_score(self.score)
            except ValidationError as error:
                raise ValidationError({"score": error.messages}) from None
        if self.referral_id and self.referral.organization_id != self.organization_id:
            raise ValidationError({"referral": "Choose one of your organization's referrals."})


class NpsResponse(TenantModel):
    """A patient's answer to "How likely are you to recommend us to a friend or colleague?", 0–10.

    One per referral: typed by staff, or given by the patient through a survey link.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])
    comment = models.TextField(blank=True, max_length=2000)
    answered_on = models.DateField("date")
    answered_by_patient = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "NPS answer"
        indexes = [
            models.Index(fields=["organization", "answered_on"], name="outcomes_nps_org_date"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "referral"],
                name="outcomes_nps_one_per_referral",
                violation_error_message="This referral's patient has already answered.",
            ),
            models.CheckConstraint(
                condition=models.Q(score__lte=10),
                name="outcomes_nps_score_0_to_10",
                violation_error_message="The score runs from 0 to 10.",
            ),
        ]

    def __str__(self) -> str:
        return f"NPS {self.score}"


class NpsSurvey(TenantModel):
    """The survey link made for one referral's patient: signed, expiring, answered once.

    The link carries only this row's id, signed with a timestamp
    (outcomes/survey.py), never anything about the patient. A new link for
    the same referral re-signs the same row; answering marks it, so every
    link of the referral stops working.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField()
    last_link_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "NPS survey"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "referral"], name="outcomes_survey_one_per_referral"
            ),
        ]
