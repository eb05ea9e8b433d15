"""The inbox screen: queues and filters, the conversation list, the open conversation."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
