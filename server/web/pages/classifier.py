"""The on-model classifier's model card (course leads and admins)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.services import suggestions
from server.web.deps import page_user, render


async def classifier_page(request: Request) -> Response:
    card = await suggestions.model_card(page_user(request), request.app.state.suggestion_model)
    return render(request, "classifier.html", card=card)


routes = [Route("/classifier", classifier_page, methods=["GET"], name="classifier")]
