"""The Idempotency-Key header, for every mutating request (see adapters.idempotency)."""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.idempotency import StoredAnswer, request_hash
from adapters.tokens import hash_token
from api.context import Context, authenticate
from api.errors import STORE_DOWN, ApiError, problem, store_unavailable_problem

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,200}$")


class IdempotencyMiddleware:
    """Pure ASGI in front: a request that is not a mutation with an Idempotency-Key (most of
    them: every read) goes straight to the app, without the cost of BaseHTTPMiddleware's
    request and response wrappers. Keyed mutations go through :class:`_KeyedRequests`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.keyed = _KeyedRequests(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in MUTATING
            and any(name == b"idempotency-key" for name, _ in scope["headers"])
            and _served(scope)
        ):
            await self.keyed(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _served(scope: Scope) -> bool:
    """Whether a route serves this method on this path: a key on a request the API will answer
    with 404 or 405 claims nothing (the answer says what is wrong with the request itself)."""
    return any(route.matches(scope)[0] is Match.FULL for route in scope["app"].router.routes)


def _refusal(ctx: Context, authorization: str) -> ApiError | None:
    """Why the caller would be refused now (401), or None; no header: an anonymous request."""
    if not authorization:
        return None
    try:
        authenticate(ctx, authorization)
    except ApiError as refused:
        return refused
    return None


class _KeyedRequests(BaseHTTPMiddleware):
    """A mutation with an Idempotency-Key: claimed once, its answer stored and replayed."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        key = request.headers["Idempotency-Key"]
        if not _KEY.match(key):
            return problem(
                422,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1-200 letters, digits or . _ : - (a UUID is a good choice).",
                request,
                field="Idempotency-Key",
            )
        ctx = request.app.state.context
        authorization = request.headers.get("Authorization", "")
        scope = (
            hash_token(authorization.partition(" ")[2].strip()) if authorization else "anonymous"
        )
        body = await request.body()
        digest = request_hash(request.method, request.url.path + "?" + request.url.query, body)
        try:
            claim = await run_in_threadpool(ctx.idempotency.claim, scope, key, digest, ctx.now())
        except STORE_DOWN:  # outside the app's exception handlers: answer as they would
            return store_unavailable_problem(request)
        if claim.conflict == "reused":
            return problem(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a different request. Use a new key for a new request.",
                request,
                field="Idempotency-Key",
            )
        if claim.conflict == "in_progress":
            return problem(
                409,
                "idempotency_request_in_progress",
                "The first request with this key is still running; retry shortly.",
                request,
            )
        if claim.answer is not None:
            # Only for a caller still admitted: a token revoked, expired or of a disabled
            # staff member since gets no stored answer either.
            try:
                refused = await run_in_threadpool(_refusal, ctx, authorization)
            except STORE_DOWN:
                return store_unavailable_problem(request)
            if refused is not None:
                return problem(
                    refused.status, refused.code, refused.detail, request, **refused.extra
                )
            answer = claim.answer
            return Response(
                answer.body,
                status_code=answer.status,
                media_type=answer.content_type,
                headers={"Idempotent-Replayed": "true"},
            )
        request.state.idempotency_key = key
        response = await call_next(request)
        stream: Any = response  # call_next answers a streaming response
        content = b"".join([chunk async for chunk in stream.body_iterator])
        if (
            response.status_code >= 500
            or response.status_code == 401
            or "retry-after" in response.headers  # refused for now: a retry may pass
            or "no-store" in response.headers.get("cache-control", "")  # a secret: a new token
        ):
            await run_in_threadpool(ctx.idempotency.release, scope, key)
        else:
            answer = StoredAnswer(
                response.status_code,
                content,
                response.headers.get("content-type", "application/json"),
            )
            await run_in_threadpool(ctx.idempotency.answer, scope, key, answer, ctx.now())
        return Response(content, status_code=response.status_code, headers=dict(response.headers))
