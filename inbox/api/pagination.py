"""Cursor pagination on a unique, unchanging key: pages stay correct while conversations
arrive and change, and no page costs a COUNT (docs/architecture.md, "REST API")."""

from __future__ import annotations

from rest_framework.exceptions import NotFound
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
