"""OpenAPI schema additions: every operation documents the error answers it can give, in
the one error shape (inbox/api/exceptions.py), so clients and schemathesis know them."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for people."},
        "code": {"type": "string", "description": "What went wrong, for programs."},
        "errors": {
            "type": "object",
            "additionalProperties": True,
            "description": "Invalid input: the messages per field.",
        },
    },
    "required": ["detail", "code"],
}

ERRORS = {
    "400": "Invalid input (`invalid`) or a body that is not JSON (`parse_error`).",
    "401": "No token or session, or an unknown token.",
    "403": "Not allowed: not on the webcare team, or not a team lead where one is needed.",
    "404": "No such object, or not one you may see.",
    "405": "Method not allowed.",
    "406": "Not acceptable: the API answers JSON.",
    "409": "Refused in the current state, e.g. taken by a colleague already; "
    "`newer_messages` when the citizen wrote after `seen_message_id`.",
    "415": "Unsupported media type: send JSON.",
    "429": "Too many requests; see Retry-After.",
}


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
