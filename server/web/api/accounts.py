"""Signing in to the API: a bearer token for a username and password; who the token belongs to."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.errors import Invalid
from server.models import ApiToken
from server.security import new_api_token
from server.services.accounts import authenticate
from server.web.deps import api_user, json_body
from server.web.serialise import user_json


async def create_token(request: Request) -> JSONResponse:
    """
    summary: Exchange a username and password for a bearer token.
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [username, password], properties: {username: {type: string}, password: {type: string}}}
    responses:
      200: {description: "{token, token_type, user}"}
      401: {description: Wrong username or password.}
    """
    body = await json_body(request)
    username, password = str(body.get("username", "")), str(body.get("password", ""))
    if not username or not password:
        raise Invalid("Send 'username' and 'password'.")
    user = await authenticate(username, password)
    if user is None:
        raise HTTPException(401, "Wrong username or password.")
    token, token_hash = new_api_token()
    await ApiToken.create(user=user, token_hash=token_hash)
    return JSONResponse({"token": token, "token_type": "bearer", "user": user_json(user)})


async def me(request: Request) -> JSONResponse:
    """
    summary: The user the token belongs to.
    responses:
      200: {description: "{id, username, name, role}"}
    """
    return JSONResponse(user_json(api_user(request)))


routes = [
    Route("/token", create_token, methods=["POST"], name="token"),
    Route("/me", me, methods=["GET"], name="me"),
]
