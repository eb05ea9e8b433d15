from django.contrib import admin

from channels.models import Channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "account_id", "health", "last_success_at", "is_active"]
    list_filter = ["kind", "health", "is_active"]
    # Credentials are set through `manage.py channels add`; never shown, even encrypted.
    exclude = ["credentials_encrypted"]
    readonly_fields = ["health", "last_error", "last_error_at", "last_polled_at", "last_success_at"]
