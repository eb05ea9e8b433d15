"""Full-text search over messages and contacts."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
