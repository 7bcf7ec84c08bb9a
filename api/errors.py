"""Errors as application/problem+json, produced in exactly one place.

Every BillingError has a stable ``code``; its class decides the status. Validation errors
name the field. Anything unexpected is logged and answered as a 500 problem without detail
(the tests make sure no input reaches it).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from eventsourcing.persistence import MapperDeserialisationError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain import errors
from service_layer.unit_of_work import STORE_FAILURES

log = logging.getLogger("billing.api")

PROBLEM = "application/problem+json"
#: Seconds a client should wait before trying again a request refused for now.
RETRY_AFTER = 5


class ApiError(Exception):
    """An error of the API itself (authentication, permissions, idempotency)."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def unauthorized(
    detail: str = "Send a bearer token: Authorization: Bearer <token> (billing tokens create).",
    **extra: Any,
) -> ApiError:
    return ApiError(401, "unauthorized", detail, **extra)


def forbidden(action: str) -> ApiError:
    return ApiError(403, "forbidden", f"Your role may not {action}.")


def _status_of(error: errors.BillingError) -> int:
    if isinstance(error, errors.NotFound):
        return 404
    if isinstance(error, errors.InvalidInput):
        return 422
    return 409  # a rule of the lifecycle refuses it now


def problem(
    status: int,
    code: str,
    detail: str,
    request: Request | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    titles = {
        400: "Bad request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        422: "Invalid request",
        503: "Service unavailable",
    }
    body = {
        "type": f"https://billing.saman360.example/problems/{code}",
        "title": titles.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        **({"instance": request.url.path} if request is not None else {}),
        **extra,
    }
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)


def _allowed(request: Request) -> str:
    """Every method the API serves on this path (Starlette lists only its first route's)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), request.url.path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


#: What the store raises when it cannot be reached (the pool timed out, the server is gone):
#: one definition for the API, the commands and the scheduler.
STORE_DOWN = STORE_FAILURES


def store_unavailable_problem(request: Request | None = None, **extra: Any) -> JSONResponse:
    """503: the store cannot be reached now; nothing was recorded; try again later."""
    return problem(
        503,
        "store_unavailable",
        "The billing store cannot be reached just now; nothing was recorded. Try again in "
        f"{RETRY_AFTER} seconds (the same Idempotency-Key makes a retry safe).",
        request,
        headers={"Retry-After": str(RETRY_AFTER)},
        **extra,
    )


def _quote(value: object, limit: int = 60) -> str:
    """The value a client sent, as it sent it (shortened): errors quote what was sent."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.BillingError)
    async def billing_error(request: Request, error: errors.BillingError) -> JSONResponse:
        # Extension members a client can act on: the field at fault, a refusal's reason code,
        # the profile fields an official invoice still needs, and what a refund may still be.
        extra = {
            k: error.details[k] for k in ("field", "reason", "missing") if error.details.get(k)
        }
        extra |= {
            k: error.details[k]
            for k in ("refundable", "credit", "returnable")
            if error.details.get(k) is not None
        }
        return problem(_status_of(error), error.code, error.message, request, **extra)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return problem(error.status, error.code, error.detail, request, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        if any(item.get("type") == "json_invalid" for item in error.errors()):
            return problem(
                400,
                "malformed_body",
                "The request body is not valid JSON; send a JSON object "
                "(Content-Type: application/json).",
                request,
            )
        fields = []
        for item in error.errors():
            location = [str(part) for part in item.get("loc", ()) if part not in ("body",)]
            message = item.get("msg", "invalid").removeprefix("Value error, ")
            sent = item.get("input")
            if isinstance(sent, str | int | float | bool) and "got " not in message:
                message += f" (got {_quote(sent)})"
            fields.append({"field": ".".join(location) or "body", "message": message})
        detail = (
            "; ".join(f"{f['field']}: {f['message']}" for f in fields)
            or "The request is not valid."
        )
        return problem(422, "invalid_request", detail, request, errors=fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed"}
        detail = {
            400: "The request body could not be read; send JSON (Content-Type: application/json).",
            404: "There is no such resource.",
        }.get(error.status_code, str(error.detail))
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = _allowed(request)
        return problem(
            error.status_code,
            codes.get(error.status_code, "http_error"),
            detail,
            request,
            headers=headers,
        )

    @app.exception_handler(errors.TimeWentBackwards)
    @app.exception_handler(errors.GatewayUnavailable)
    async def transient(request: Request, error: errors.BillingError) -> JSONResponse:
        # Refused for now, not for good: the idempotency layer keeps no answer that says
        # Retry-After, so the same request (and key) may pass later.
        return problem(
            409, error.code, error.message, request, headers={"Retry-After": str(RETRY_AFTER)}
        )

    async def store_unavailable(request: Request, error: Exception) -> JSONResponse:
        # A handler for these classes (not for Exception) answers without closing the
        # client's keep-alive connection; the load balancer reads /readyz meanwhile.
        log.warning(
            "the store is unavailable on %s %s: %s", request.method, request.url.path, error
        )
        return store_unavailable_problem(request)

    for failure in STORE_DOWN:
        app.add_exception_handler(failure, store_unavailable)

    @app.exception_handler(MapperDeserialisationError)
    async def unreadable(request: Request, error: MapperDeserialisationError) -> JSONResponse:
        log.error(
            "a stored event cannot be read on %s %s: %s", request.method, request.url.path, error
        )
        return problem(
            500,
            "stored_event_unreadable",
            "A stored event this answer needs cannot be read, so the store may have been "
            "altered. Nothing was recorded. Ask an operator to run `billing audit verify`, "
            "which names every changed or removed event; trying again will not help.",
            request,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "internal_error",
            "Something went wrong on our side; nothing was recorded twice. Try again.",
            request,
        )
