"""The portal's HTTP API (FastAPI), built from the one composition root.

``create_app()`` takes the runtime the composition root built (``bootstrap.build_runtime``; or
builds one from settings), with a router per resource: plans, customers, representatives,
subscriptions, invoices, audit, reports, admin, staff, health. Errors are application/problem+json
(``api/errors.py``), every mutating request accepts an
``Idempotency-Key`` (``api/idempotency.py``), and callers authenticate with bearer tokens
(``billing tokens create``). Nothing is built at import time.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from adapters.collector import freeze_what_startup_made
from api import backoffice, errors
from api.assets import SWAGGER_UI, WEB
from api.context import Context
from api.idempotency import IdempotencyMiddleware
from api.routers import (
    admin,
    audit,
    customers,
    documents,
    health,
    invoices,
    pages,
    payments,
    plans,
    reports,
    representatives,
    staff,
    subscriptions,
    webhooks,
)
from api.security import SecurityHeaders

if TYPE_CHECKING:
    from bootstrap import Runtime

DESCRIPTION = """
The billing engine of a hosted-website portal: plans, customers, representatives,
subscriptions, invoices, payments, audit and reports.

* **Authentication**: `Authorization: Bearer <token>`; a token has an owner (a staff member,
  a machine client, a customer or a representative), a role (customer, representative,
  finance, support, admin), optionally an expiry and scopes (`read`, `payments`). Another
  party's resource answers 404.
* **Idempotency**: every POST accepts `Idempotency-Key`; a retry with the same key and body
  returns the first answer without acting again.
* **Errors**: `application/problem+json` with a stable `code`.
* **Time**: ISO 8601 UTC, with Jalali strings (`*_jalali`) where a person reads them.
  **Money**: integer rials.
"""


def create_app(
    runtime: Runtime | None = None,
    *,
    start_scheduler: bool = False,
    close_on_shutdown: bool = False,
    freeze_startup: bool = False,
    **settings: Any,
) -> FastAPI:
    """The API over ``runtime`` (built from settings when not given).

    With ``start_scheduler`` the runtime's scheduler runs in-process while the app is served;
    with ``close_on_shutdown`` the runtime is closed when serving ends (a worker process that
    owns its runtime, ``billing serve --workers``); with ``freeze_startup`` (a served process,
    ``billing serve``, not a test's) what startup made is left out of the garbage collector's
    later walks (adapters/collector.py).
    """
    from bootstrap import build_runtime

    if runtime is None:
        runtime = build_runtime(**settings)
    # The API's own parts beside the engine's, built now: never by two requests at once.
    runtime.build_all("tokens", "credentials", "idempotency", "documents", "links", "return_urls")
    context = Context(runtime=runtime)
    test_mode = context.test_mode

    @asynccontextmanager
    async def lifespan(api: FastAPI):
        # Writers fold their own events; the follower folds what a writer that crashed
        # between its save and its fold left (docs/ARCHITECTURE.md, "Reads never wait").
        following = not runtime.read_models.in_memory
        if following:
            runtime.read_models.start()
        if start_scheduler:
            runtime.start()
        if freeze_startup:
            freeze_what_startup_made()
        try:
            yield
        finally:
            runtime.stop()
            if following:
                runtime.read_models.stop()
            if close_on_shutdown:
                runtime.close()

    api = FastAPI(
        title="Billing lifecycle engine",
        version="0.2.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from the engine's own copy of Swagger UI
        redoc_url=None,
    )
    api.state.context = context
    errors.install(api)
    api.add_middleware(IdempotencyMiddleware)
    api.add_middleware(SecurityHeaders)
    api.mount("/static", StaticFiles(directory=WEB), name="static")
    api.add_api_route("/docs", _docs_page, include_in_schema=False)
    for router in (
        health,
        plans,
        customers,
        representatives,
        subscriptions,
        invoices,
        documents,
        payments,
        pages,
        audit,
        reports,
        webhooks,
        admin,
        staff,
    ):
        api.include_router(router.router)
    backoffice.install(api)  # the back office's pages under /office (docs/BACKOFFICE.md)
    if test_mode:
        api.include_router(admin.clock_router)  # the clock routes exist only in test mode
    _document_problems(api)
    return api


def _docs_page() -> HTMLResponse:
    """The OpenAPI document in Swagger UI, every script and style served by this engine."""
    SWAGGER_UI.ensure()
    return HTMLResponse(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Billing lifecycle engine: API</title>"
        '<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css"></head>'
        '<body><div id="swagger-ui"></div>'
        '<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>'
        '<script src="/static/docs.js"></script></body></html>'
    )


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {
            "type": "string",
            "description": "Stable: one per kind of error.",
            "example": "plan_not_found",
        },
        "detail": {"type": "string", "description": "What was wrong and what to do."},
        "instance": {"type": "string"},
        "field": {"type": "string", "description": "The field at fault, when there is one."},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
PROBLEM_STATUSES = {
    "400": "The body could not be read (not JSON)",
    "401": "No token, or one unknown, revoked, expired or of a disabled staff member",
    "403": "The caller's role or the token's scopes do not allow this",
    "404": "Not found (or another party's)",
    "409": "A billing rule refuses it now",
    "422": "The request is not valid; `field` names what",
    "503": "The store cannot be reached just now (`Retry-After` says when to try again)",
}


#: Routes that answer without a token.
PUBLIC = {("/healthz", "get"), ("/readyz", "get"), ("/payments/callback", "get")}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any 1-200 letters, digits or . _ : - (a UUID is a good choice): a retry "
    "with the same key and body gets the first answer and acts once.",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:\\-]{1,200}$"},
}


def _document_authentication(schema: dict[str, Any]) -> None:
    """The bearer scheme every route but the public ones needs, and the Idempotency-Key that
    every mutation accepts, so that generated clients know both."""
    schema["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `billing tokens create` or POST /admin/tokens.",
        }
    }
    schema["security"] = [{"bearer": []}]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if (path, method) in PUBLIC:
                operation["security"] = []
            if method in ("post", "put", "patch", "delete"):
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)


def _document_problems(api: FastAPI) -> None:
    """Every operation may answer these problems as application/problem+json: say so in the
    OpenAPI document, in place of FastAPI's default validation-error shape."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema:
            return api.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, text in PROBLEM_STATUSES.items():
                    operation.setdefault("responses", {})[status] = {
                        "description": text,
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
                        },
                    }
        schema["components"]["schemas"].pop("HTTPValidationError", None)
        schema["components"]["schemas"].pop("ValidationError", None)
        _document_authentication(schema)
        api.openapi_schema = schema
        return schema

    api.openapi = openapi  # type: ignore[method-assign]
