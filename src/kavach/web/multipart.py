"""Request bodies read into memory under a limit, and multipart forms parsed there.

Uploads are hashed and forgotten: Starlette's own form parser spools large parts to temporary
files on disk, which an upload of abuse material must never touch, so forms are parsed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from kavach.errors import InputError, PayloadTooLargeError

__all__ = ["FormPart", "multipart_openapi", "parse_form", "read_body"]

_MAX_PARTS = 16


@dataclass(frozen=True, slots=True)
class FormPart:
    """One field of a form: its bytes, and the file name and type when it is a file."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None

    def text(self) -> str:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("a text form field is not UTF-8") from None


async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body, or PayloadTooLargeError past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"request body over the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_form(content_type: str, body: bytes) -> dict[str, FormPart]:
    """Parse a ``multipart/form-data`` body held in memory; the first part of each name wins."""
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data":
        raise InputError("send the file as multipart/form-data")
    boundary = params.get(b"boundary")
    if not boundary:
        raise InputError("multipart body without a boundary")
    parts: dict[str, FormPart] = {}
    headers: dict[bytes, bytes] = {}
    header_field = bytearray()
    header_value = bytearray()
    data = bytearray()
    count = 0

    def on_part_begin() -> None:
        nonlocal count
        count += 1
        if count > _MAX_PARTS:
            raise InputError(f"a form may have at most {_MAX_PARTS} parts")
        headers.clear()
        data.clear()

    def on_header_field(buf: bytes, start: int, end: int) -> None:
        header_field.extend(buf[start:end])

    def on_header_value(buf: bytes, start: int, end: int) -> None:
        header_value.extend(buf[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_part_data(buf: bytes, start: int, end: int) -> None:
        data.extend(buf[start:end])

    def on_part_end() -> None:
        disposition, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if disposition != b"form-data" or name is None:
            raise InputError("a form part without a form-data name")
        key = name.decode("utf-8", "replace")
        filename = options.get(b"filename")
        ctype_header = headers.get(b"content-type")
        if key not in parts:
            parts[key] = FormPart(
                data=bytes(data),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=ctype_header.decode("latin-1") if ctype_header else None,
            )

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError as exc:
        raise InputError(f"malformed multipart body: {exc}") from None
    return parts


def multipart_openapi(
    fields: dict[str, dict[str, object]], required: list[str]
) -> dict[str, object]:
    """``openapi_extra`` describing a multipart body (the endpoint parses it itself)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": fields, "required": required}
                }
            },
        }
    }
