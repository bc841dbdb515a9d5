"""Signing in to the API and the caller's own account: tokens, sessions, password."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.errors import Invalid, Unauthenticated
from server.models import EndReason
from server.services import accounts, sign_in
from server.web.auth import client_of
from server.web.deps import api_user, capped_body, json_body, settings_of
from server.web.serialise import session_json, token_json, user_json

SIGN_IN_BODY_LIMIT = 16 * 1024


async def create_token(request: Request) -> JSONResponse:
    """
    summary: Exchange a username and password (and, with multi-factor sign-in on, a code as `otp`) for a bearer token.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [username, password], properties: {username: {type: string}, password: {type: string}, otp: {type: string, description: "the authenticator app's code, or a recovery code"}}}
    responses:
      200: {description: "{token, token_type, expires_at, user}"}
      400: {description: Missing or over-long fields.}
      401: {description: Wrong username, password or code.}
      403: {description: The role needs multi-factor sign-in, not yet set up.}
      429: {description: Too many failures; Retry-After says when to try again.}
    """
    await capped_body(request, SIGN_IN_BODY_LIMIT)
    body = await json_body(request)
    username, password, otp = body.get("username", ""), body.get("password", ""), body.get("otp")
    if not isinstance(username, str) or not isinstance(password, str) or not (otp is None or isinstance(otp, str)):
        raise Invalid("'username', 'password' and 'otp' are text.")
    client = client_of(request)
    user = await sign_in.check_password(username, password, client)
    settings = settings_of(request)
    if sign_in.mfa_enabled(user):
        if not otp:
            raise Unauthenticated("Send the code from your authenticator app as 'otp'.")
        await sign_in.check_second_factor(user, otp, client)
    else:
        sign_in.require_mfa_enrolled(user, settings)
    await sign_in.signed_in(user, client)
    token, row = await sign_in.issue_token(user, settings, client)
    return JSONResponse({"token": token, "token_type": "bearer", "expires_at": row.expires_at.isoformat(),
                         "user": user_json(user)})


async def me(request: Request) -> JSONResponse:
    """
    summary: The user the token belongs to.
    responses:
      200: {description: "{id, username, name, role}"}
    """
    return JSONResponse(user_json(api_user(request, enrolling=True)))


async def logout(request: Request) -> Response:
    """
    summary: End the credential this request was made with (the bearer token, or the cookie session).
    responses:
      204: {description: Ended.}
    """
    user = api_user(request, enrolling=True)
    if token := request.scope.get("api_token"):
        await sign_in.revoke_own_token(user, token.id)
    elif session := request.scope.get("user_session"):
        await sign_in.end_session(session.id, EndReason.SIGNED_OUT)
        request.session.clear()
    return Response(status_code=204)


async def change_password(request: Request) -> Response:
    """
    summary: Change the caller's password; every session and token of theirs ends, this one too.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [current_password, new_password], properties: {current_password: {type: string}, new_password: {type: string}}}
    responses:
      204: {description: Changed.}
      422: {description: "The current password is wrong, or the new one is refused: {error, errors}"}
    """
    user = api_user(request, enrolling=True)
    body = await json_body(request)
    await accounts.change_password(user, body.get("current_password"), body.get("new_password"))
    return Response(status_code=204)


async def my_sessions(request: Request) -> JSONResponse:
    """
    summary: The caller's live page sessions and API tokens (created, last used, from where).
    responses:
      200: {description: "{sessions: [...], tokens: [...]}"}
    """
    user = api_user(request, enrolling=True)
    sessions = await sign_in.live_sessions(user, settings_of(request))
    current = request.scope.get("user_session")
    current_token = request.scope.get("api_token")
    return JSONResponse({
        "sessions": [session_json(s, current=current is not None and s.id == current.id) for s in sessions],
        "tokens": [token_json(t, current=current_token is not None and t.id == current_token.id)
                   for t in await sign_in.live_tokens(user)],
    })


async def end_session(request: Request) -> Response:
    """
    summary: Sign one of the caller's sessions out.
    responses:
      204: {description: Ended.}
      404: {description: No such session of the caller's.}
    """
    await sign_in.end_own_session(api_user(request, enrolling=True), request.path_params["session_id"])
    return Response(status_code=204)


async def revoke_token(request: Request) -> Response:
    """
    summary: Revoke one of the caller's API tokens.
    responses:
      204: {description: Revoked.}
      404: {description: No such token of the caller's.}
    """
    await sign_in.revoke_own_token(api_user(request, enrolling=True), request.path_params["token_id"])
    return Response(status_code=204)


routes = [
    Route("/token", create_token, methods=["POST"], name="token"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/me", me, methods=["GET"], name="me"),
    Route("/me/password", change_password, methods=["POST"], name="password"),
    Route("/me/sessions", my_sessions, methods=["GET"], name="sessions"),
    Route("/me/sessions/{session_id:int}", end_session, methods=["DELETE"], name="session_end"),
    Route("/me/tokens/{token_id:int}", revoke_token, methods=["DELETE"], name="token_revoke"),
]
