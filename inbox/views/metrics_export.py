"""STUB: filled in by the issue 6 work."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
