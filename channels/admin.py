from typing import cast

from django.contrib import admin
from django.contrib.auth.models import User
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from channels.models import Channel, QuarantinedItem
from channels.services import quarantine_resolve


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "account_id", "health", "last_success_at", "is_active"]
    list_filter = ["kind", "health", "is_active"]
    # A whitelist, not an exclude: a field added to Channel later is not shown until someone
    # decides it may be. The credentials are never shown, not even encrypted; they are
    # replaced on the administrators' channel page (/administration/channels/) or with
    # `manage.py channels`. The cursor is the connector's and not for editing.
    fields = [
        "kind",
        "name",
        "account_id",
        "account_handle",
        "api_base_url",
        "poll_interval_seconds",
        "history_days",
        "is_active",
        "append_signature",
        "platform_settings",
        "health",
        "last_error",
        "last_error_at",
        "last_polled_at",
        "last_success_at",
        "paused_until",
    ]
    readonly_fields = [
        "health",
        "last_error",
        "last_error_at",
        "last_polled_at",
        "last_success_at",
        "paused_until",
    ]

    # Django 6 will assume https for a scheme-less URL; platform APIs are https anyway.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Channel]:
        # Not even read: nothing in the admin can leak what it never loaded.
        return super().get_queryset(request).defer("credentials_encrypted")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A channel without credentials cannot poll: connect accounts with
        # `manage.py channels add` or the API, which take the credentials encrypted.
        return False


@admin.register(QuarantinedItem)
class QuarantinedItemAdmin(admin.ModelAdmin):
    list_display = ["created_at", "channel", "reason", "resolved_at"]
    list_filter = ["channel", ("resolved_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["channel", "reason", "raw", "created_at", "resolved_at"]
    actions = ["mark_resolved"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Mark as handled")
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[QuarantinedItem]) -> None:
        resolved = quarantine_resolve(
            item_ids=list(queryset.values_list("id", flat=True)), actor=cast(User, request.user)
        )
        self.message_user(request, f"{resolved} item(s) marked as handled.")
