from django.urls import path

from inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("conversations/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("conversations/<int:conversation_id>/reply/", views.reply_send, name="reply_send"),
    path("conversations/<int:conversation_id>/take/", views.conversation_take, name="take"),
    path("replies/<int:message_id>/status/", views.reply_status, name="reply_status"),
    path("replies/<int:message_id>/retry/", views.reply_retry, name="reply_retry"),
    path("duty/", views.duty_toggle, name="duty"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
