import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from inbox.models import Team

# Far above every platform's limit; only stops absurd posts. The platform's own limit, as
# the platform counts (X: URLs 23, emoji 2), is checked by reply_create and shown live.
MAX_REPLY_CHARACTERS = 20_000


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Your reply"),
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=True,
        max_length=MAX_REPLY_CHARACTERS,
    )
    # Generated when the composer is rendered: a second submit of the same form (double
    # click, browser retry) carries the same key and creates nothing new.
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    # Only offered where the platform can answer a public message privately (DM).
    private = forms.BooleanField(required=False)
    # Collision detection: the newest message of the thread when the composer was rendered.
    # Sending refuses (NewerMessagesSinceOpened) when a message arrived after it, unless
    # the agent ticks "Send anyway".
    seen_message_id = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    confirmed_despite_newer = forms.BooleanField(label=_("Send anyway"), required=False)
    # A public reply that looks like it holds personal data (inbox/personal_data.py) is
    # refused (PersonalDataInPublicReply) unless the agent ticks this.
    confirmed_personal_data = forms.BooleanField(
        label=_("Send anyway: this data is not personal, or the citizen published it themselves"),
        required=False,
    )
    # …and says why, for the audit trail (reply_create checks it; MIN_PERSONAL_DATA_REASON).
    personal_data_reason = forms.CharField(
        label=_("Why may this be public?"),
        help_text=_(
            "E.g. “the citizen published it themselves” or “it is the municipality's own "
            "number”. Kept in the audit trail."
        ),
        required=False,
        strip=True,
        max_length=300,
    )

    def __init__(self, *args: object, max_length: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # The platform's limit for this conversation's reply, as the platform counts. Not a
        # `maxlength` attribute: the browser counts characters, so it would cut off a tweet
        # with a long link, or a private message longer than a public reply may be.
        self.max_length = max_length
        self.fields["text"].widget.attrs.update(
            {"maxlength": str(MAX_REPLY_CHARACTERS), "data-max-length": str(max_length)}
        )


class CannedResponseForm(forms.Form):
    shortcut = forms.SlugField(
        label=_("Shortcut"),
        max_length=50,
        help_text=_(
            "Letters, digits and hyphens, e.g. afval-ophaaldag. Type /shortcut in the reply."
        ),
    )
    title = forms.CharField(label=_("Title"), max_length=100)
    text = forms.CharField(
        label=_("Text"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("You can use {{ naam }}, {{ agent_voornaam }} and {{ gemeente }}."),
    )
    # Only offered to team leads; the service refuses it for anyone else.
    shared = forms.BooleanField(label=_("Shared with colleagues"), required=False)
    team = forms.ModelChoiceField(
        label=_("Shared with"),
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label=_("Everyone"),
        help_text=_("A team's responses are offered only to its members."),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Screen readers read the hint (and an error) with the field.
        for name, field in self.fields.items():
            described = [f"id_{name}-help"] if field.help_text else []
            if self.is_bound and name in self.errors:
                described.append(f"id_{name}-error")
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)
