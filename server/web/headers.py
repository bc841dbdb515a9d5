"""Security headers on every response of the service: pages, API, static files and errors."""

from __future__ import annotations

from starlette.responses import PlainTextResponse

# Every script is an ES module of /static (no inline script, no eval), and templates carry no inline styles
# (the audit's SVG charts use presentation attributes, which CSP does not count as styles).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "img-src 'self' data:",
    "media-src 'self'",
    "connect-src 'self'",
])
# Listening to a recording needs none of these (autoplay, fullscreen and picture-in-picture stay as they are, for
# the player; security keys, for signing in). Each is a name Chromium knows: it logs an error for any other.
DENIED_FEATURES = [
    "accelerometer", "browsing-topics", "camera", "display-capture", "geolocation", "gyroscope", "hid",
    "idle-detection", "magnetometer", "microphone", "midi", "payment", "serial", "usb", "xr-spatial-tracking",
]
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in DENIED_FEATURES)
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"

HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pages and transcripts are clinical data: no caching by shared caches, no sniffing, no framing, no
    script but our own; HTTPS pinned once a browser has reached the service over it."""

    def __init__(self, app, media_origin: str | None = None) -> None:
        self.app = app
        self.headers = HEADERS if media_origin is None else [
            (name, value.replace(b"media-src 'self'", f"media-src 'self' {media_origin}".encode()))
            for name, value in HEADERS
        ]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope["path"].startswith("/static/")
        # The scheme is the socket's, or a configured proxy's X-Forwarded-Proto (uvicorn, DIT_TRUSTED_PROXIES):
        # never what any client claims.
        over_https = scope["scheme"] == "https"
        started = False

        async def send_with_headers(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers += self.headers
                if over_https:
                    headers.append((b"strict-transport-security", STRICT_TRANSPORT_SECURITY.encode()))
                if not is_static and not any(name == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"private, no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's ServerErrorMiddleware sits outside every middleware of ours and would answer an
            # unhandled error without these headers; answered here, it sends nothing more and still logs.
            if not started:
                await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send_with_headers)
            raise
