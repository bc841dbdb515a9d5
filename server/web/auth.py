"""Who is asking: a bearer token for the JSON API, a server-side session for the pages.

The page cookie (signed by Starlette's SessionMiddleware) carries the session's random key and the
form CSRF token; the session itself, with its expiry and last use, is a database row, so that sign-out,
revocation, a password change or deactivation ends it at once.
"""

from __future__ import annotations

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from server import access
from server.services import notifications, sign_in, worklist
from server.web.deps import bearer_of
from server.web.health import UNAUTHENTICATED_PATHS

SESSION_KEY = "sid"


def client_of(conn: HTTPConnection) -> sign_in.Client:
    """The caller's address (the socket's, or the forwarded one from a trusted proxy) and browser."""
    address = conn.client.host if conn.client else "unknown"
    return sign_in.Client(address=address, user_agent=conn.headers.get("user-agent", ""))


class TokenOrSessionBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection):
        if conn.url.path in UNAUTHENTICATED_PATHS:
            return None
        if conn.headers.get("authorization"):
            token = bearer_of(conn)
            if not token or len(token) > 128:
                raise AuthenticationError("Send the token as 'Authorization: Bearer <token>'.")
            api_token = await sign_in.token_for(token, client_of(conn))
            if api_token is None:
                raise AuthenticationError("The token is not valid (expired, revoked or unknown). "
                                          "Ask for a new one at POST /api/token.")
            conn.scope["api_token"] = api_token
            return AuthCredentials(["authenticated", "bearer"]), api_token.user
        key = conn.session.get(SESSION_KEY)
        if not isinstance(key, str):
            return None
        session = await sign_in.session_for(key, conn.app.state.settings)
        if session is None:
            conn.session.clear()
            return None
        conn.scope["user_session"] = session
        if conn.scope.get("method") == "GET" and not conn.url.path.startswith(("/api/", "/static/")):
            # The counts on a page's navigation: two small queries, for pages only.
            user = session.user
            conn.scope["nav_counts"] = {
                "unread": await notifications.unread_count(user),
                "to_do": await worklist.waiting_count() if access.sees_everything(user) else None}
        return AuthCredentials(["authenticated", "session"]), session.user


def on_auth_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


class SessionCookie:
    """Starlette's signed session cookie, marked Secure whenever the request reached the service over
    HTTPS (or always, with `always_secure`), so one deployment serves TLS and a laptop alike."""

    def __init__(self, app, *, always_secure: bool = False, **options) -> None:
        self.secure = SessionMiddleware(app, **options, https_only=True)
        self.plain = self.secure if always_secure else SessionMiddleware(app, **options, https_only=False)

    async def __call__(self, scope, receive, send) -> None:
        chosen = self.secure if scope.get("scheme") in ("https", "wss") else self.plain
        await chosen(scope, receive, send)
