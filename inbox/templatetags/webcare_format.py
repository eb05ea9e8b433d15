from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration_short(seconds: float | None) -> str:
    """Seconds as a short human duration: '45 s', '12 min', '3 h 5 min'; '—' when unknown."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return _("%(seconds)d s") % {"seconds": total}
    minutes = total // 60
    if minutes < 60:
        return _("%(minutes)d min") % {"minutes": minutes}
    hours, minutes = divmod(minutes, 60)
    return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
