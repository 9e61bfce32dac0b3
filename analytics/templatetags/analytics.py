from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def figure(value: object, unit: str = "count") -> str:
    """A headline number as people read it: "$12,400", "38.5 %", "1,204", "—" when there is none."""
    if value is None:
        return "—"
    if unit == "money":
        return f"${Decimal(str(value)):,.0f}"
    if unit == "percent":
        return f"{value:g} %"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}" if isinstance(value, float) else str(value)


@register.filter
def signed(value: object, unit: str = "count") -> str:
    """A change with its sign: "+12", "−3.5 points", "+$1,200"."""
    if value is None:
        return ""
    number = float(value)  # type: ignore[arg-type]
    sign = "+" if number > 0 else "−" if number < 0 else "±"
    size = abs(number)
    if unit == "money":
        return f"{sign}${size:,.0f}"
    if unit == "percent":
        return f"{sign}{size:g} points"
    return f"{sign}{size:,.0f}" if size == int(size) else f"{sign}{size:g}"
