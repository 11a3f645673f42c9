"""The generated spec: a Problem schema for every documented error, security scheme, stable output."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `code` is stable and machine-readable.",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

EXTRA_HOOKS: list[Any] = []


def install_openapi(app: FastAPI) -> None:
    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            webhooks=app.webhooks.routes,
        )
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        comps["Problem"] = PROBLEM_SCHEMA
        for path_item in schema.get("paths", {}).values():
            for op in path_item.values():
                if not isinstance(op, dict):
                    continue
                for status, resp in op.get("responses", {}).items():
                    # FastAPI's default 422 references HTTPValidationError; ours is a Problem.
                    if status == "422":
                        resp["content"] = {
                            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                        }
        comps.pop("HTTPValidationError", None)
        comps.pop("ValidationError", None)
        for hook in EXTRA_HOOKS:
            hook(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
