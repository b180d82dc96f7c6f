"""Request bodies: JSON parsing and per-field validation with errors that name the field.

A spec maps each allowed field to a validator (a function that returns the clean value or raises
``Invalid``). Fields outside the spec are rejected, so a typo never passes silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from typing import Any

from aiohttp import web

from interview_room import client_settings

from .errors import ApiError

Validator = Callable[[Any], Any]
Spec = dict[str, Validator]


class Invalid(Exception):
    """The value is wrong; the message completes the sentence "<field> ..."."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object."""
    limit = request.client_max_size
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "body_too_large", f"The request body is larger than {limit} bytes")
    body = await request.read()
    if not body.strip():
        return {}
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, "invalid_json", "The body is not valid JSON") from e
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object")
    return data


def parse(data: dict[str, Any], spec: Spec, required: Collection[str] = (), prefix: str = "") -> dict[str, Any]:
    """Validate ``data`` against ``spec``; returns only the fields that were given, cleaned."""
    for key in data:
        if key not in spec:
            name = f"{prefix}{key}"
            raise ApiError(400, "unknown_field", f"Unknown field '{name}'", field=name)
    for key in required:
        if key not in data:
            name = f"{prefix}{key}"
            raise ApiError(400, "validation_error", f"{name} is required", field=name)
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        try:
            out[key] = spec[key](value)
        except Invalid as e:
            raise ApiError(400, "validation_error", f"{name} {e}", field=name) from e
    return out


# ---- validators ----


def string(
    max_len: int = 1000,
    min_len: int = 0,
    choices: Collection[str] | None = None,
    strip: bool = True,
    lower: bool = False,
) -> Validator:
    def v(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid("must be a string")
        s = value.strip() if strip else value
        if lower:
            s = s.lower()
        if choices is not None and s not in choices:
            raise Invalid(f"must be one of: {', '.join(sorted(choices))}")
        if len(s) < min_len:
            raise Invalid("must not be empty" if min_len == 1 else f"must be at least {min_len} characters")
        if len(s) > max_len:
            raise Invalid(f"must be at most {max_len} characters")
        return s

    return v


def integer(lo: int, hi: int) -> Validator:
    def v(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("must be an integer")
        if not lo <= value <= hi:
            raise Invalid(f"must be between {lo} and {hi}")
        return value

    return v


def language(allow_auto: bool = False) -> Validator:
    """A BCP-47 tag of a language Whisper knows, reduced to its code (``pt-BR`` -> ``pt``): the same
    rule as a ``settings`` message on the data channel (interview_room/client_settings.py)."""

    def v(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid("must be a string")
        try:
            return client_settings.language(value, allow_auto=allow_auto)
        except ValueError as e:
            raise Invalid(str(e)) from None

    return v


def string_list(max_items: int, max_len: int) -> Validator:
    item = string(max_len=max_len, min_len=1)

    def v(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise Invalid("must be a list of strings")
        if len(value) > max_items:
            raise Invalid(f"must have at most {max_items} items")
        try:
            return [item(x) for x in value]
        except Invalid as e:
            raise Invalid(f"items {e}") from e

    return v


def email(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string")
    s = value.strip().lower()
    if len(s) > 254 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", s):
        raise Invalid("must be an e-mail address")
    return s


def password(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("must be a string")
    if len(value) < 8:
        raise Invalid("must be at least 8 characters")
    if len(value) > 1024:
        raise Invalid("must be at most 1024 characters")
    return value


def nullable(inner: Validator) -> Validator:
    def v(value: Any) -> Any:
        return None if value is None else inner(value)

    return v
