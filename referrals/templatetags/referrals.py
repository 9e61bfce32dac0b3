from datetime import timedelta

from django import template

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
