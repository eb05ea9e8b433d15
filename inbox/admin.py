from django.contrib import admin

from inbox.models import (
    AgentProfile,
    AuditEvent,
    CannedResponse,
    Contact,
    Conversation,
    Message,
)


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "presence", "capacity", "last_seen_at"]
    list_filter = ["role", "presence"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "contact", "status", "assignee", "last_activity_at"]
    list_filter = ["status", "channel"]
    list_select_related = ["channel", "contact", "assignee"]
    readonly_fields = [field.name for field in Conversation._meta.fields]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "direction", "external_id", "delivery_status", "sent_at"]
    list_filter = ["direction", "delivery_status", "channel"]
    list_select_related = ["channel"]
    readonly_fields = [field.name for field in Message._meta.fields]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["id", "channel", "username", "display_name"]
    search_fields = ["username", "display_name"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "actor", "channel", "conversation"]
    list_filter = ["action"]
    readonly_fields = [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "title", "owner", "updated_at"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    list_select_related = ["owner"]
    search_fields = ["shortcut", "title", "text"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
