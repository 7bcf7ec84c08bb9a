"""Sign-in, sign-out and the back office's front door (docs/BACKOFFICE.md, "Signing in").

The sign-in form is protected against login CSRF with a double-submit value: a random
``billing_office_signin`` cookie (SameSite=Strict, HttpOnly) and the same value in the form. A
wrong e-mail or password waits ``BILLING_OFFICE_SIGNIN_DELAY`` seconds and answers 401 with the
form again, saying only that the pair was not recognised (never which half).
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.backoffice.render import render
from api.backoffice.session import (
    COOKIE,
    PATH,
    SessionDep,
    StaffSession,
    current_session,
    end_session,
    secure,
    start_session,
)
from api.context import ContextDep
from api.permissions import USE_BACK_OFFICE

router = APIRouter(prefix=PATH, include_in_schema=False)

PRE_COOKIE = "billing_office_signin"

REASONS = {
    "idle": "به‌دلیل بی‌کاری طولانی از سامانه خارج شدید. دوباره وارد شوید.",
    "expired": "نشست شما به پایان رسید. دوباره وارد شوید.",
    "revoked": "نشست شما بسته شد. دوباره وارد شوید.",
    "owner_disabled": "حساب کاربری شما غیرفعال شده است.",
    "signed_out": "از سامانه خارج شدید.",
    "unknown": "برای دیدن این صفحه وارد شوید.",
}


async def pause(seconds: float) -> None:
    """The wait before a wrong sign-in's answer (a test replaces it to see it asked for)."""
    await asyncio.sleep(seconds)


def _safe_next(value: str | None) -> str:
    """Only a path of the back office itself: never another site (an open redirect)."""
    if not value or not value.startswith(PATH) or value.startswith("//") or "\\" in value:
        return PATH
    return value


def _sign_in_page(
    request: Request, *, next_path: str, message: str = "", email: str = "", status: int = 200
) -> Response:
    pre = secrets.token_urlsafe(24)
    response = render(
        request,
        None,
        "sign_in.html.j2",
        title="ورود به پنل مالی",
        next_path=next_path,
        message=message,
        email=email,
        pre=pre,
        status=status,
    )
    response.set_cookie(
        PRE_COOKIE,
        pre,
        httponly=True,
        samesite="strict",
        secure=secure(request),
        path=PATH,
        max_age=3600,
    )
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None, reason: str | None = None) -> Response:
    return _sign_in_page(request, next_path=_safe_next(next), message=REASONS.get(reason or "", ""))


@router.post("/sign-in")
async def sign_in(request: Request, ctx: ContextDep) -> Response:
    form = await request.form()
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    pre = request.cookies.get(PRE_COOKIE, "")
    if not pre or not hmac.compare_digest(pre, str(form.get("pre", ""))):
        return _sign_in_page(
            request,
            next_path=target,
            email=email,
            message="فرم ورود منقضی شده بود؛ دوباره تلاش کنید.",
            status=403,
        )
    account = await run_in_threadpool(ctx.credentials.verify_password, email, password)
    if account is None or account.role not in {r.value for r in USE_BACK_OFFICE.roles}:
        await pause(ctx.runtime.settings.office_signin_delay)
        return _sign_in_page(
            request,
            next_path=target,
            email=email,
            message="نشانی ایمیل یا گذرواژه درست نیست.",
            status=401,
        )
    token = await run_in_threadpool(start_session, ctx, account.id, request)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=secure(request), path=PATH
    )
    response.delete_cookie(PRE_COOKIE, path=PATH)
    return response


@router.post("/sign-out")
def sign_out(session: SessionDep, ctx: ContextDep) -> Response:
    end_session(ctx, session)
    response = RedirectResponse(f"{PATH}/sign-in?reason=signed_out", status_code=303)
    response.delete_cookie(COOKIE, path=PATH)
    return response


@router.get("")
def home(session: Annotated[StaffSession, Depends(current_session)]) -> Response:
    return RedirectResponse(f"{PATH}/queue", status_code=303)
