"""Cursor pagination on a unique, unchanging key: pages stay correct while conversations
arrive and change, and no page costs a COUNT (docs/architecture.md, "REST API")."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

# PostgreSQL's bigint: a cursor position beyond it cannot be a row id.
_MAX_ID = 2**63 - 1


class IdCursorPagination(CursorPagination):
    """Newest first (highest id first)."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        # Strict, like every other parameter: "?page_size=lots" is a 400, not the default.
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        if (
            len(values) > 1
            or not re.fullmatch(r"[0-9]{1,4}", values[0])
            or not 1 <= int(values[0]) <= self.max_page_size
        ):
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        _("A whole number from 1 to %(maximum)d.") % {"maximum": self.max_page_size}
                    ]
                }
            )
        return int(values[0])

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        # The position is compared with the id column: a crafted cursor that is not an id
        # would otherwise reach the database as a type error.
        if cursor is not None and cursor.position is not None:
            position = str(cursor.position)
            if not (position.isascii() and position.isdigit()) or int(position) > _MAX_ID:
                raise NotFound(self.invalid_cursor_message)
        return cursor


class OldestFirstCursorPagination(IdCursorPagination):
    ordering = "id"


class AgentCursorPagination(IdCursorPagination):
    """Agents are addressed by their user id."""

    ordering = "user_id"
