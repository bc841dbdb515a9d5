"""The OpenAPI schema, generated from the API handlers' docstrings."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.schemas import SchemaGenerator

schemas = SchemaGenerator(
    {"openapi": "3.0.0", "info": {"title": "DIT supervision platform API", "version": "1.0"},
     "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
     "security": [{"bearer": []}]}
)


async def openapi(request: Request) -> JSONResponse:
    # Made once per app: the routes and their docstrings do not change while it runs, and parsing the
    # docstrings' YAML took a fifth of a second a request.
    if getattr(request.app.state, "openapi", None) is None:
        api = [route for route in request.app.routes if isinstance(route, Mount) and route.name == "api"]
        request.app.state.openapi = schemas.get_schema(routes=api)
    return JSONResponse(request.app.state.openapi)
