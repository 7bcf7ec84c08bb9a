"""Security headers on every answer, and a strict policy on every page (docs/SECURITY.md).

Every response says ``X-Content-Type-Options: nosniff`` (a browser takes the content type we
send, never guesses HTML in a JSON error or a scan), ``Referrer-Policy: no-referrer`` and
``X-Frame-Options: DENY``. Every HTML page also gets a Content-Security-Policy: scripts, styles,
fonts and pictures from this engine only (no CDN, no inline script), no plugins, no framing,
forms posting only here. A route that sets its own policy (a receipt scan: ``sandbox``) keeps
it. Pure ASGI, so it costs a header list per response and nothing else.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
PAGE_POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; font-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    b"base-uri 'none'; form-action 'self'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in ALWAYS if name not in present]
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                if content_type.startswith(b"text/html") and (
                    b"content-security-policy" not in present
                ):
                    headers.append((b"content-security-policy", PAGE_POLICY))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
