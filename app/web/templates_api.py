"""The `templates` blueprint: `GET, POST /templates`, `GET, PATCH, DELETE /templates/ID`.

An id outside its pattern is 400 `invalid_id` (the records check it).

Part of the web layer: parses the bodies, calls `app.templating.TemplateService`, and answers the
API's template JSON, whose `owner` is "me" or "shared" and never names another user.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic
from flask import Blueprint, Response, g, jsonify

from app.templating import TemplateService
from app.web.bodies import parse_body
from app.web.current import services
from conversation_manager.store import TemplateRecord

bp = Blueprint("templates", __name__)

OptionValue = str | int | float | bool | None


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", strict=True)


class VariableBody(_Strict):
    name: str = pydantic.Field(max_length=64)
    default: str | None = None
    description: str | None = pydantic.Field(default=None, max_length=500)


class MessageBody(_Strict):
    role: Literal["user", "assistant"]
    text: str


class TemplateChange(_Strict):
    """`PATCH /templates/ID`: any of the fields; the result is checked as a whole."""

    name: str | None = pydantic.Field(default=None, min_length=1, max_length=200)
    description: str | None = pydantic.Field(default=None, max_length=2000)
    instructions: str | None = None
    variables: list[VariableBody] | None = pydantic.Field(default=None, max_length=50)
    messages: list[MessageBody] | None = pydantic.Field(default=None, max_length=50)
    provider: str | None = pydantic.Field(default=None, max_length=40)
    model: str | None = pydantic.Field(default=None, max_length=100)
    options: dict[str, OptionValue] | None = pydantic.Field(default=None, max_length=32)
    shared: bool | None = None


class TemplateBody(TemplateChange):
    """`POST /templates`: `name` and `instructions` are required."""

    name: str = pydantic.Field(min_length=1, max_length=200)
    instructions: str


def _fields(body: TemplateChange) -> dict[str, Any]:
    data = body.model_dump(exclude_unset=True)
    for key in ("name", "instructions", "variables", "messages", "shared"):
        if key in data and data[key] is None:  # null: left as it is
            del data[key]
    for key in ("provider", "model"):  # "" clears, like null
        if key in data and not data[key]:
            data[key] = None
    return data


def template_json(record: TemplateRecord, user: str) -> dict[str, Any]:
    """One template as the API shows it to `user` (`owner` "me" or "shared", no user name)."""
    return {
        "id": record.id,
        "name": record.name,
        "description": record.description,
        "instructions": record.instructions,
        "variables": [dict(v) for v in record.variables],
        "messages": [dict(m) for m in record.messages],
        "provider": record.provider,
        "model": record.model,
        "options": dict(record.options) if record.options is not None else {},
        "shared": record.shared,
        "owner": "me" if record.owner == user else "shared",
        "created_at": record.created,
        "updated_at": record.updated,
    }


def _templates() -> TemplateService:
    return services().templates


@bp.get("/templates")
def list_templates() -> Response:
    return jsonify({"templates": [template_json(r, g.user) for r in _templates().list(g.user)]})


@bp.post("/templates")
def create_template() -> Response:
    body = parse_body(TemplateBody)
    record = _templates().create(g.user, _fields(body))
    response = jsonify(template_json(record, g.user))
    response.status_code = 201
    return response


@bp.get("/templates/<template_id>")
def get_template(template_id: str) -> Response:
    return jsonify(template_json(_templates().get(g.user, template_id), g.user))


@bp.patch("/templates/<template_id>")
def update_template(template_id: str) -> Response:
    body = parse_body(TemplateChange)
    record = _templates().update(g.user, template_id, _fields(body))
    return jsonify(template_json(record, g.user))


@bp.delete("/templates/<template_id>")
def delete_template(template_id: str) -> Response:
    _templates().delete(g.user, template_id)
    return Response(status=204)
