"""OpenAPI additions every operation shares: the error body of shop.api.exception_handler."""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "string", "description": "A stable code, for a program."},
    },
    "required": ["detail"],
    "additionalProperties": True,  # e.g. `errors` per field, `shortages` of an out-of-stock order
}


def add_error_responses(result, generator, request, public):
    """Document the JSON error any operation may answer with (4XX: bad input, 404, 409, 429)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error = {
        "description": "An error: `detail` says what went wrong.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault("4XX", error)
    return result
