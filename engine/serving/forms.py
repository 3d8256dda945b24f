"""Request parsing for the routes: multipart forms, typed text fields, and engine validators
whose ValueError/TypeError becomes a 422 naming the field (:func:`check`)."""

from __future__ import annotations

import hashlib

from fastapi import Request
from starlette.datastructures import UploadFile

from .codec import WireError


async def read_form(request: Request, max_files: int):
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise WireError(415, "unsupported_media_type", f"expected a multipart/form-data body, got {ctype or 'none'!r}")
    try:
        return await request.form(max_files=max_files, max_fields=32, max_part_size=16 * 1024 * 1024)
    except WireError:
        raise
    except Exception as e:  # noqa: BLE001 - the multipart parser raises several kinds
        detail = getattr(e, "detail", None) or e
        raise WireError(400, "malformed_multipart", f"the multipart body could not be parsed: {detail}") from None


def expect_fields(form, route: str, allowed: set[str], repeatable: frozenset[str] = frozenset()) -> None:
    """A 422 for a field ``route`` does not read (a misspelt ``sed`` or a ``seeds`` sent to a
    single predict would otherwise run with defaults) and for a field sent twice (which value
    would count?), except the ``repeatable`` ones (a batch's ``actions`` parts)."""
    names = list(form.keys())
    unknown = sorted({n for n in names if n not in allowed})
    if unknown:
        raise WireError(
            422, "unknown_field", f"{route} does not take the field(s) {unknown}; it takes {sorted(allowed)}"
        )
    repeated = sorted({n for n in names if n not in repeatable and len(form.getlist(n)) > 1})
    if repeated:
        raise WireError(422, "repeated_field", f"{route}: the field(s) {repeated} were sent more than once")


def bool_field(raw, name: str) -> bool:
    """``1``/``true`` or ``0``/``false`` (any case; absent is false); anything else is a 422."""
    if raw is None:
        return False
    value = str(raw).strip().lower()
    if value in ("1", "true"):
        return True
    if value in ("0", "false", ""):
        return False
    raise WireError(422, "invalid_field", f"{name} must be 1/true or 0/false, got {str(raw)[:40]!r}")


async def file_part(form, name: str, *, required: bool = True) -> bytes | None:
    value = form.get(name)
    if value is None:
        if required:
            raise WireError(422, "missing_field", f"missing the {name!r} file part")
        return None
    if not isinstance(value, UploadFile):
        raise WireError(422, "invalid_field", f"{name!r} must be a file part, got a text field")
    return await value.read()


async def file_parts(form, name: str) -> list[bytes]:
    out = []
    for value in form.getlist(name):
        if not isinstance(value, UploadFile):
            raise WireError(422, "invalid_field", f"every {name!r} part must be a file part, got a text field")
        out.append(await value.read())
    return out


def text_field(form, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if isinstance(value, UploadFile):
        raise WireError(422, "invalid_field", f"{name!r} must be a text field, got a file part")
    return value


def int_field(raw, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise WireError(422, "invalid_field", f"{name} must be an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        raise WireError(422, "invalid_field", f"{name} must be an integer, got {str(raw)[:40]!r}") from None


def float_field(raw, name: str) -> float | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise WireError(422, "invalid_field", f"{name} must be a number, got {raw!r}")
    try:
        return float(str(raw).strip()) if not isinstance(raw, int | float) else float(raw)
    except ValueError:
        raise WireError(422, "invalid_field", f"{name} must be a number, got {str(raw)[:40]!r}") from None


def check(fn, *args, **kw):
    """Run an engine validator; its ValueError/TypeError becomes a 422 with its message."""
    try:
        return fn(*args, **kw)
    except (ValueError, TypeError) as e:
        raise WireError(422, "invalid_input", str(e)) from None


def digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        data = p if isinstance(p, bytes) else str(p).encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def fields_of(form_data, *names) -> dict:
    return {n: text_field(form_data, n) for n in names}
