import uuid

from django import forms
from django.utils.translation import gettext_lazy as _


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Your reply"),
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=True,
    )
    # Generated when the composer is rendered: a second submit of the same form (double
    # click, browser retry) carries the same key and creates nothing new.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    # Only offered where the platform can answer a public message privately (DM).
    private = forms.BooleanField(required=False)

    def __init__(self, *args: object, max_length: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.max_length = max_length
        text_field = self.fields["text"]
        assert isinstance(text_field, forms.CharField)  # noqa: S101 - declared just above
        text_field.max_length = max_length
        self.fields["text"].widget.attrs.update(
            {"maxlength": str(max_length), "data-max-length": str(max_length)}
        )
