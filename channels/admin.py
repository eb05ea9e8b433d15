from typing import cast

from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from channels.models import Channel, QuarantinedItem
from channels.services import quarantine_resolve


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "account_id", "health", "last_success_at", "is_active"]
    list_filter = ["kind", "health", "is_active"]
    # Credentials are set through `manage.py channels add`; never shown, even encrypted.
    exclude = ["credentials_encrypted"]
    readonly_fields = ["health", "last_error", "last_error_at", "last_polled_at", "last_success_at"]


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
