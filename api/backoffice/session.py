"""Signing staff in and out of the back office, and checking every request (docs/BACKOFFICE.md).

A session is a token of the token store (adapters/tokens.py), issued to the staff member at
sign-in with the label ``back-office session`` and an expiry of ``BILLING_OFFICE_SESSION_HOURS``.
So one query decides each request as it does for the API: a revoked session, an expired one,
or a disabled member's ends at once, in every process; admins see and revoke sessions with the
other tokens (``GET /admin/tokens``); and the role is the member's as it is at each request.

- The cookie (``billing_office``) holds the token: HttpOnly, ``SameSite=Strict``, ``Secure``
  when the page was asked for over HTTPS, path ``/office``.
- **Idle timeout**: a request more than ``BILLING_OFFICE_IDLE_MINUTES`` after the session's
  previous one (the token's ``last_used_at``, kept to the minute) revokes the session and
  asks for a new sign-in.
- **CSRF**: every POST (a form or an htmx request) must carry the session's CSRF token, in the
  ``csrf`` form field or the ``X-CSRF-Token`` header. It is an HMAC of a fixed label keyed by
  the session's token, so only a page served inside the session knows it, and it ends with it.
- Only staff whose role may use the back office (``api/permissions.py``) sign in; a customer's
  or a representative's token in the cookie opens no page (403).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import Depends, Request

from adapters.tokens import OwnerKind, Principal
from api.context import Context, ContextDep
from api.permissions import USE_BACK_OFFICE

COOKIE = "billing_office"
PATH = "/office"
LABEL = "back-office session"


class SignInNeeded(Exception):
    """No session, or one that ended: the page answers with the sign-in page."""

    def __init__(self, reason: str, next_path: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.next_path = next_path


class OfficeForbidden(Exception):
    """Signed in (or a token in the cookie), but not someone the back office or this action is
    for."""

    def __init__(self, action: str) -> None:
        super().__init__(action)
        self.action = action


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


@dataclass(frozen=True)
class StaffSession:
    """A signed-in staff member on one request."""

    principal: Principal
    token: str
    csrf: str

    @property
    def name(self) -> str:
        return self.principal.actor.name or self.principal.actor.id or ""

    @property
    def role(self) -> str:
        return self.principal.role.value


def csrf_of(token: str) -> str:
    return hmac.new(token.encode(), b"billing back office csrf", hashlib.sha256).hexdigest()


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def next_path(request: Request) -> str:
    """Where to come back to after signing in: this page, if it is one of the back office's."""
    path = request.url.path
    if request.method != "GET" or not path.startswith(PATH):
        return PATH
    return path + (f"?{request.url.query}" if request.url.query else "")


def sign_in_url(reason: str = "", back: str = PATH) -> str:
    query = f"?next={quote(back, safe='/')}"
    if reason:
        query += f"&reason={reason}"
    return f"{PATH}/sign-in{query}"


def current_session(request: Request, ctx: ContextDep) -> StaffSession:
    """The staff member signed in on this request; else :class:`SignInNeeded` (the page answers
    with the sign-in page) or :class:`OfficeForbidden` (a token that is not staff's)."""
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise SignInNeeded("", next_path(request))
    now = ctx.now()
    found = ctx.tokens.principal(token, now)
    if found is None:
        raise SignInNeeded(ctx.tokens.refusal(token, now), next_path(request))
    if found.owner is None or found.owner.kind.value != OwnerKind.STAFF.value:
        raise OfficeForbidden(USE_BACK_OFFICE.action)
    if not USE_BACK_OFFICE.allows(found):
        raise OfficeForbidden(USE_BACK_OFFICE.action)
    idle = timedelta(minutes=ctx.runtime.settings.office_idle_minutes)
    if found.last_used_at is not None and now - found.last_used_at > idle:
        ctx.tokens.revoke(token, now)
        raise SignInNeeded("idle", next_path(request))
    session = StaffSession(found, token, csrf_of(token))
    request.state.principal = found
    return session


async def checked_session(request: Request, ctx: ContextDep) -> StaffSession:
    """:func:`current_session`, and for anything but GET and HEAD the CSRF token too."""
    session = current_session(request, ctx)
    if request.method not in ("GET", "HEAD"):
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent:
            form = await request.form()
            value = form.get("csrf", "")
            sent = value if isinstance(value, str) else ""
        if not hmac.compare_digest(sent, session.csrf):
            raise CsrfRefused()
    return session


SessionDep = Annotated[StaffSession, Depends(checked_session)]


def start_session(ctx: Context, staff_id: UUID, request: Request) -> str:
    """A new session for ``staff_id`` (just checked by password): its token."""
    now = ctx.now()
    hours = ctx.runtime.settings.office_session_hours
    issued = ctx.tokens.issue_for_staff(
        staff_id, now, label=LABEL, expires_at=now + timedelta(hours=hours)
    )
    return issued.token


def end_session(ctx: Context, session: StaffSession) -> None:
    ctx.tokens.revoke(session.token, ctx.now())
