"""The finance back office: Persian, server-rendered pages under ``/office`` for the staff who
confirm money and answer for it (docs/BACKOFFICE.md).

Jinja2 templates (``api/backoffice/templates``) and htmx, Vazirmatn, every script, style sheet
and font served by the engine (``api/assets.py``). Staff sign in with their e-mail and password
(``session.py``); every page checks the same permissions as the API (``api/permissions.py``).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response

from api.backoffice import (
    actions,
    customer,
    health,
    queue,
    reports,
    search,
    signin,
    subscription,
)
from api.backoffice.render import is_htmx, render
from api.backoffice.session import (
    PATH,
    CsrfRefused,
    OfficeForbidden,
    SignInNeeded,
    sign_in_url,
)
from api.errors import ApiError, _status_of
from domain.errors import BillingError

PAGES = (signin, queue, search, customer, subscription, reports, actions, health)


def install(api: FastAPI) -> None:
    """The back office's routes, and what its refusals look like (pages, not problem+json)."""
    for page in PAGES:
        api.include_router(page.router)

    _pages_for_refusals(api)

    @api.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, error: SignInNeeded) -> Response:
        target = sign_in_url(error.reason, error.next_path)
        if is_htmx(request):
            # htmx follows HX-Redirect with a whole page load, not a swap of the sign-in form.
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @api.exception_handler(OfficeForbidden)
    async def office_forbidden(request: Request, error: OfficeForbidden) -> Response:
        return render(
            request,
            None,
            "refused.html.j2",
            title="دسترسی ندارید",
            message=f"این صفحه یا کار برای نقش شما نیست ({error.action}).",
            status=403,
        )

    @api.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, error: CsrfRefused) -> Response:
        return render(
            request,
            None,
            "refused.html.j2",
            title="درخواست پذیرفته نشد",
            message="این فرم از صفحهٔ خود پنل فرستاده نشده بود (نشانهٔ CSRF نادرست یا ناموجود). "
            "صفحه را دوباره باز کنید و از نو بفرستید.",
            status=403,
        )


def _pages_for_refusals(api: FastAPI) -> None:
    """Under ``/office`` a refused command (a billing rule, a 403, a malformed form) answers a
    page in Persian with the engine's reason and the same status; elsewhere the API's
    problem+json as before."""
    for kind in (BillingError, ApiError, RequestValidationError):
        api_handler = api.exception_handlers[kind]

        async def handler(request: Request, error: Exception, api_handler=api_handler) -> Response:
            if not request.url.path.startswith(PATH + "/"):
                return await api_handler(request, error)
            if isinstance(error, BillingError):
                status, message = _status_of(error), error.message
            elif isinstance(error, ApiError):
                status, message = error.status, error.detail
            else:
                status, message = 422, "فرم کامل یا درست پر نشده بود."
            return render(
                request,
                None,
                "refused.html.j2",
                title="انجام نشد",
                message=message,
                status=status,
            )

        api.add_exception_handler(kind, handler)
