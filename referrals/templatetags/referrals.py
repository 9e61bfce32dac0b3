from datetime import datetime, timedelta

from django import template

from clinics.clock import clinic_clock
from clinics.models import Clinic

register = template.Library()


@register.filter
def elapsed(value: timedelta | None) -> str:
    """“2 days 3 h”, “5 h 20 min”, “15 min”: a waiting time the way the desk says it."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min"


@register.filter
def on_clinic_clock(moment: datetime | None, clinic: Clinic | None) -> str:
    """An appointment as the clinic's clocks show it (clinics/clock.py), whoever reads it."""
    if moment is None or clinic is None:
        return "—"
    return clinic_clock(moment, clinic)
