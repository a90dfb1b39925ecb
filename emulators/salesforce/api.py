"""The versioned REST surface: ``/services/data/`` and everything under ``/services/data/vXX.X/``.

One Flask view receives every call, checks the API version, the session and the daily
allowance, then dispatches on path segments to the route tables of the resource modules
(sObjects, query, collections, Bulk API 2.0, Tooling). Paths are split from the raw request
URI so an external-id value containing an encoded ``/`` stays one segment. Every response
carries ``Sforce-Limit-Info``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus, urlsplit

from flask import Blueprint, Request, Response, jsonify, request

from closedloop.emulators.admin import mark_rate_limited
from closedloop.emulators.salesforce.auth import bearer_token
from closedloop.emulators.salesforce.errors import ApiError, not_found, session_invalid
from closedloop.emulators.salesforce.org import Org

if TYPE_CHECKING:
    from closedloop.emulators.salesforce.emulator import SalesforceEmulator

OLDEST_VERSION, NEWEST_VERSION, FIRST_SUPPORTED = 20, 68, 31
_VERSION = re.compile(r"^v(\d+)\.0$")
MAX_URI_BYTES = 16_384  # URI plus headers, per REST call (help article 000386264)


@dataclass
class Call:
    """One REST call being answered."""

    emu: SalesforceEmulator
    version: str
    request: Request

    @property
    def org(self) -> Org:
        """The emulated org."""
        return self.emu.org

    @property
    def base(self) -> str:
        """``/services/data/vXX.X``."""
        return f"/services/data/v{self.version}"

    def body(self) -> Any:
        """The parsed JSON body.

        Raises:
            ApiError: 400 ``JSON_PARSER_ERROR`` when the body is not JSON.
        """
        raw = self.request.get_data(as_text=True)
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from exc


Handler = Callable[[Call, list[str]], Response]
Route = tuple[str, tuple[str, ...], Handler]


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response with ``status``."""
    response = jsonify(body)
    response.status_code = status
    return response


def no_content() -> Response:
    """204 without a body."""
    return Response(status=204)


def season_label(version: int) -> str:
    """Release name of an API version (``59`` → ``Winter '24``)."""
    step = version - 20
    return f"{('Winter', 'Spring', 'Summer')[step % 3]} '{11 + step // 3}"


def versions_body() -> list[dict[str, str]]:
    """The body of ``GET /services/data/``: every version still answering."""
    return [
        {"label": season_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(FIRST_SUPPORTED, NEWEST_VERSION + 1)
    ]


def _match(pattern: Sequence[str], segments: Sequence[str]) -> list[str] | None:
    if len(pattern) != len(segments):
        return None
    captured: list[str] = []
    for expected, actual in zip(pattern, segments, strict=True):
        if expected == "*":
            captured.append(actual)
        elif expected.lower() != actual.lower():
            return None
    return captured


def dispatch(call: Call, segments: list[str], routes: Sequence[Route]) -> Response:
    """Run the first route whose pattern and method match.

    Raises:
        ApiError: 404 for an unknown resource, 405 for a known one with another method.
    """
    allowed: list[str] = []
    for method, pattern, handler in routes:
        captured = _match(pattern, segments)
        if captured is None:
            continue
        if method == call.request.method:
            return handler(call, captured)
        allowed.append(method)
    if allowed:
        raise ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{call.request.method}' not allowed. Allowed are {','.join(allowed)}",
        )
    raise not_found()


def _raw_segments(prefix_segments: int) -> list[str]:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
    path = urlsplit(raw).path
    parts = [unquote_plus(p) for p in path.split("/") if p != ""]
    return parts[prefix_segments:]


def rest_blueprint(emu: SalesforceEmulator, routes: Sequence[Route]) -> Blueprint:
    """The ``/services/data`` blueprint answering from ``routes``."""
    blueprint = Blueprint("salesforce_rest", __name__)

    @blueprint.get("/services/data")
    @blueprint.get("/services/data/")
    def versions() -> Response:
        return json_response(versions_body())

    @blueprint.route("/services/data/<version>/", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
    @blueprint.route(
        "/services/data/<version>/<path:rest>", methods=["GET", "POST", "PATCH", "PUT", "DELETE"]
    )
    def resource(version: str, rest: str = "") -> Response:
        try:
            _check_request_size()
            number = _check_version(version)
            _authenticate(emu)
            if not emu.usage.try_consume():
                mark_rate_limited()
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            call = Call(emu, f"{number}.0", request)
            with emu.lock:
                return dispatch(call, _raw_segments(3), routes)
        except ApiError as error:
            return error.response()

    @blueprint.after_app_request
    def limit_header(response: Response) -> Response:
        parts = request.path.split("/")
        if request.path.startswith("/services/data/v") and _VERSION.match(parts[3]):
            response.headers["Sforce-Limit-Info"] = emu.usage.header()
        return response

    return blueprint


def _check_request_size() -> None:
    """Salesforce's 16,384-byte budget: 414 for a longer URI, 431 with the headers over it."""
    query = request.query_string
    uri = len(request.path.encode()) + (len(query) + 1 if query else 0)
    headers = sum(len(name) + len(value) + 4 for name, value in request.headers.items())
    if uri > MAX_URI_BYTES:
        raise ApiError(414, "URI_TOO_LONG", "URI Too Long")
    if uri + headers > MAX_URI_BYTES:
        raise ApiError(431, "REQUEST_HEADER_FIELDS_TOO_LARGE", "Request Header Fields Too Large")


def _check_version(version: str) -> int:
    match = _VERSION.match(version)
    if match is None or not OLDEST_VERSION <= int(match.group(1)) <= NEWEST_VERSION:
        raise not_found()
    number = int(match.group(1))
    if number < FIRST_SUPPORTED:
        raise ApiError(410, "API_VERSION_RETIRED", f"API version {number}.0 has been retired")
    return number


def _authenticate(emu: SalesforceEmulator) -> None:
    token = bearer_token(request)
    if token is None or emu.sessions.check(token) is None:
        raise session_invalid()
