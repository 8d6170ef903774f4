"""One validation layer for text input, at the HTTP boundary.

`InputGuardMiddleware` looks at everything a request carries as text before any view runs:
the path's captured values, the query string, form bodies (urlencoded and multipart fields,
not file contents) and JSON bodies. Text that PostgreSQL or UTF-8 cannot store is refused
with a 400 naming the field, instead of a DataError/UnicodeEncodeError 500 deep in a service:

- U+0000 (NUL): PostgreSQL `text` cannot hold it ("invalid byte sequence for encoding UTF8:
  0x00", https://www.postgresql.org/docs/current/datatype-character.html).
- U+D800..U+DFFF (lone surrogates, reachable through JSON "\\ud800" escapes): not encodable
  as UTF-8 (https://www.unicode.org/versions/Unicode15.0.0/ch03.pdf, D76).

JSON bodies are parsed once here with bounds (Django's DATA_UPLOAD_MAX_MEMORY_SIZE caps the
size; nesting is capped at `settings.CHRONOS_JSON_MAX_DEPTH`; NaN/Infinity are refused as
RFC 8259 has no such literals) and the result is kept on the request, so DRF's
`BoundedJSONParser` and plain views reuse it (`request_json`) instead of parsing again.

Django form CharFields and DRF serializer CharFields already refuse NUL themselves
(ProhibitNullCharactersValidator); this layer also covers views that read `request.GET`,
`request.POST` or the body directly, and JSON bodies of any view.

Views that must see the raw bytes (a signed webhook: its signature is checked first) opt out
with `@input_unchecked` and check the text themselves.

Error body (API and JSON requests): {"error": message, "code": "invalid_input",
"fields": {name: [message]}}; other requests get the same message as an HTML page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

UNSTORABLE_MESSAGE = (
    "Contains a character that cannot be stored (a NUL byte or an unpaired surrogate); "
    "remove it and try again."
)
_NO_JSON = object()


class BadInput(ValueError):
    """Input refused: `field` names where ("" for the whole body), `message` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def unstorable(text: str) -> bool:
    """True when `text` holds NUL or a lone surrogate (see the module docstring)."""
    if "\x00" in text:
        return True
    return any("\ud800" <= ch <= "\udfff" for ch in text) if not text.isascii() else False


def input_unchecked(view: Callable) -> Callable:
    """Mark a view whose raw input the guard must not inspect (e.g. a signed webhook)."""
    view.input_unchecked = True
    return view


def _reject_constant(name: str) -> float:
    raise BadInput("", f"{name} is not valid JSON (RFC 8259 has no NaN or Infinity).")


def json_loads_bounded(raw: bytes | str, *, max_depth: int | None = None) -> Any:
    """Parse JSON text with bounds; raise BadInput (never RecursionError) on bad input.

    `raw`: the body (UTF-8 bytes or str). Depth limit: `max_depth` containers deep, default
    settings.CHRONOS_JSON_MAX_DEPTH. Strings (keys and values) are checked for unstorable
    characters; the error names the JSON path, e.g. `messages[0].content`.
    """
    limit = max_depth or settings.CHRONOS_JSON_MAX_DEPTH
    depth = _bracket_depth(raw)
    if depth > limit:
        raise BadInput("", f"The JSON body is nested {depth} levels deep; the limit is {limit}.")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise BadInput("", "The request body is not UTF-8 text.") from None
    except RecursionError:  # defensive: _bracket_depth already bounds nesting
        raise BadInput("", "The JSON body is nested too deeply.") from None
    except BadInput:
        raise
    except ValueError as exc:  # JSONDecodeError, or an integer past Python's digit limit
        raise BadInput("", f"The request body is not valid JSON: {exc}") from None
    for path, value in _json_strings(data):
        if unstorable(value):
            raise BadInput(path or "body", UNSTORABLE_MESSAGE)
    return data


def _bracket_depth(raw: bytes | str) -> int:
    """Deepest nesting of [ and { outside strings, without recursion (C-speed on the
    common case: bodies with few brackets skip the scan)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if data.count(b"[") + data.count(b"{") <= 16:
        return data.count(b"[") + data.count(b"{")
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > 10_000:
                    break
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _json_strings(data: Any) -> Iterator[tuple[str, str]]:
    """(path, text) for every key and string value in a parsed JSON document, iteratively."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                yield child, key
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))


def request_json(request: HttpRequest, default: Any = None) -> Any:
    """The request's JSON body as parsed (and checked) by the guard, else parsed now.

    Returns `default` for an empty body. Raises BadInput on invalid JSON."""
    cached = getattr(request, "_chronos_json", _NO_JSON)
    if cached is not _NO_JSON:
        return default if cached is None else cached
    body = request.body
    return json_loads_bounded(body) if body.strip() else default


def _is_json(request: HttpRequest) -> bool:
    ctype = (request.content_type or "").lower()
    return ctype == "application/json" or ctype.endswith("+json")


def _check_request(request: HttpRequest, view_kwargs: dict) -> None:
    for name, value in view_kwargs.items():
        if isinstance(value, str) and unstorable(value):
            raise BadInput(name, UNSTORABLE_MESSAGE)
    for name, values in request.GET.lists():
        if unstorable(name):
            raise BadInput(repr(name)[1:-1], UNSTORABLE_MESSAGE)
        if any(unstorable(v) for v in values):
            raise BadInput(name, UNSTORABLE_MESSAGE)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if _is_json(request):
        body = request.body
        request._chronos_json = json_loads_bounded(body) if body.strip() else None
        return
    ctype = (request.content_type or "").lower()
    # Reading request.POST here (as CsrfViewMiddleware does) means a view cannot install
    # its own upload handlers afterwards: such a view opts out with @input_unchecked.
    if ctype == "application/x-www-form-urlencoded" or ctype.startswith("multipart/"):
        try:
            form = request.POST
        except MultiPartParserError as exc:
            raise BadInput("", f"The form body could not be read: {exc}") from None
        for name, values in form.lists():
            if unstorable(name):
                raise BadInput(repr(name)[1:-1], UNSTORABLE_MESSAGE)
            if any(unstorable(v) for v in values):
                raise BadInput(name, UNSTORABLE_MESSAGE)
        for name, files in request.FILES.lists():
            if unstorable(name) or any(unstorable(f.name or "") for f in files):
                raise BadInput(name, f"The file name: {UNSTORABLE_MESSAGE}")


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or _is_json(request) or "json" in accept


def bad_input_response(request: HttpRequest, error: BadInput) -> HttpResponse:
    """400 in the API error shape (JSON) or as a small HTML page naming the field."""
    field = error.field or "body"
    if _wants_json(request):
        return JsonResponse(
            {"error": error.message, "code": "invalid_input", "fields": {field: [error.message]}},
            status=400,
        )
    html = render_to_string(
        "errors/bad_input.html", {"field": field, "message": error.message}, request=request
    )
    return HttpResponse(html, status=400)


class InputGuardMiddleware:
    """Refuse unstorable text and unbounded JSON with a 400 before the view runs.

    Place after CsrfViewMiddleware (a request refused for CSRF is not parsed here)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "input_unchecked", False):
            return None
        try:
            _check_request(request, view_kwargs)
        except BadInput as error:
            return bad_input_response(request, error)
        return None


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, bounded: reuses the guard's parse, else parses with the bounds."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        django_request = getattr(request, "_request", None)
        cached = getattr(django_request, "_chronos_json", _NO_JSON)
        if cached is not _NO_JSON:
            return {} if cached is None else cached
        try:
            return json_loads_bounded(stream.read() if stream is not None else b"")
        except BadInput as error:
            raise ParseError(error.message) from None
