"""Who is asking: a bearer token for the JSON API, a signed cookie session for the pages."""

from __future__ import annotations

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from server.clock import now
from server.models import ApiToken, User
from server.security import hash_api_token


class TokenOrSessionBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection):
        header = conn.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthenticationError("Send the token as 'Authorization: Bearer <token>'.")
            api_token = await ApiToken.get_or_none(token_hash=hash_api_token(token.strip())).select_related("user")
            if api_token is None or not api_token.user.is_active:
                raise AuthenticationError("The token is not valid. Ask for a new one at POST /api/token.")
            await ApiToken.filter(id=api_token.id).update(last_used_at=now())
            return AuthCredentials(["authenticated", "bearer"]), api_token.user
        user_id = conn.session.get("user_id")
        if user_id is None:
            return None
        user = await User.get_or_none(id=user_id, is_active=True)
        if user is None:
            conn.session.clear()
            return None
        return AuthCredentials(["authenticated", "session"]), user


def on_auth_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
