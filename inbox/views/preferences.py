"""The agent's own settings page and the accessibility statement."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
