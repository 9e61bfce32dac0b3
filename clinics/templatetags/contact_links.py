"""Every phone number a `tel:` link and every email address a `mailto:` link, written one way everywhere.

`{{ practice.phone|phone_link }}` shows the number as people read it
(clinics/phones.py) and dials it when tapped; `{{ physician.email|email_link }}`
opens a message to the address. A number kept as it was typed before numbers
were checked is shown as typed, dialling its digits, and marked so someone
corrects it. Empty values render nothing.
"""

from urllib.parse import quote

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from clinics.phones import phone_display, phone_number

register = template.Library()

UNCHECKED_NUMBER = "Not a number Rapport could read: correct it on the edit form."


@register.filter
def phone_link(value: object) -> SafeString | str:
    number = phone_number(value)
    if number is None:
        return ""
    shown = phone_display(number)
    if number.is_valid():
        return format_html('<a class="text-nowrap" href="{}">{}</a>', number.as_rfc3966, shown)
    dialled = "".join(c for c in shown if c.isdigit() or c == "+")
    marker = format_html(
        ' <span class="badge text-bg-warning" title="{}">check number</span>', UNCHECKED_NUMBER
    )
    if not dialled:
        return format_html("{}{}", shown, marker)
    return format_html('<a href="tel:{}">{}</a>{}', dialled, shown, marker)


@register.filter
def email_link(value: object) -> SafeString | str:
    if not value:
        return ""
    return format_html('<a href="mailto:{}">{}</a>', quote(str(value), safe="@"), value)
