"""Every request to a route that reads or changes clinical data or an account leaves an audit row.

`ROUTES` says, for every route by name, what it touches (`Audited`), or that it touches nothing of a
patient's or a person's (None). The app refuses to start with a route missing from it, so a new route
cannot skip the trail. The `AuditTrail` middleware finds the route itself (before signing in is
checked, so a refused token is recorded too), opens the request's entry, and writes it once the answer
is known and before a byte of it leaves: an answer whose audit row cannot be written is not sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.routing import BaseRoute, Match, Mount

from server import audit_trail
from server.access import possible_id
from server.models.audit import AuditAction, AuditObject

log = logging.getLogger("dit.audit")

VIEW, PLAY, EXPORT = AuditAction.VIEW, AuditAction.PLAY, AuditAction.EXPORT
CREATE, UPDATE, DELETE = AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Audited:
    """What a route touches: `reads` for GET and HEAD, `writes` for any other method; `id_param` is the
    path parameter that is the object's own id (a rating under /recordings/{recording_id} has none:
    its recording is noted instead)."""

    object: AuditObject
    reads: AuditAction = VIEW
    writes: AuditAction = UPDATE
    id_param: str | None = None


def _on(object: AuditObject, id_param: str | None = None, reads: AuditAction = VIEW,
        writes: AuditAction = UPDATE) -> Audited:
    return Audited(object, reads, writes, id_param)


CASE, RECORDING, RATING = AuditObject.CASE, AuditObject.RECORDING, AuditObject.RATING
ACCOUNT, SESSION = AuditObject.ACCOUNT, AuditObject.SESSION

# By route name; a page and its API twin share one entry (`api:case` falls back to `case`).
ROUTES: dict[str, Audited | None] = {
    # Signing in and out, and one's own account.
    "api:token": _on(ACCOUNT, writes=AuditAction.SIGN_IN),
    "login_submit": _on(ACCOUNT, writes=AuditAction.SIGN_IN),
    "login_code": _on(ACCOUNT, writes=AuditAction.MFA),
    "logout": _on(SESSION, writes=AuditAction.SIGN_OUT),
    "api:me": _on(ACCOUNT),
    "account": _on(ACCOUNT),
    "password": _on(ACCOUNT),
    "account_password": _on(ACCOUNT),
    "password_link": _on(ACCOUNT),
    "password_link_submit": _on(ACCOUNT),
    "sessions": _on(SESSION),
    "session_end": _on(SESSION, "session_id", writes=DELETE),
    "session_revoke": _on(SESSION, "session_id", writes=DELETE),
    "token_revoke": _on(SESSION, "token_id", writes=DELETE),
    "mfa": _on(ACCOUNT),
    "mfa_confirm": _on(ACCOUNT, writes=AuditAction.MFA),
    "mfa_off": _on(ACCOUNT, writes=AuditAction.MFA),
    "notifications": _on(ACCOUNT),
    "notifications_read": _on(ACCOUNT),
    "notification_read": _on(ACCOUNT),
    "email": _on(ACCOUNT),
    # Other people's accounts.
    "users": _on(ACCOUNT),
    "user_create": _on(ACCOUNT, writes=CREATE),
    "user": _on(ACCOUNT, "user_id"),
    "user_update": _on(ACCOUNT, "user_id"),
    "user_deactivate": _on(ACCOUNT, "user_id"),
    "user_reactivate": _on(ACCOUNT, "user_id"),
    "user_password_link": _on(ACCOUNT, "user_id"),
    "user_mfa_reset": _on(ACCOUNT, "user_id", writes=AuditAction.MFA),
    # Cases, recordings, transcripts and media.
    "cases": _on(CASE),
    "case_create": _on(CASE, writes=CREATE),
    "case": _on(CASE, "case_id"),
    "case_export": _on(CASE, "case_id", reads=EXPORT),
    "ipafs": _on(AuditObject.IPAF, "case_id"),
    "ipaf_create": _on(AuditObject.IPAF, "case_id", writes=CREATE),
    "upload": _on(RECORDING, writes=CREATE),
    "recording": _on(RECORDING, "recording_id"),
    "recording_delete": _on(RECORDING, "recording_id", writes=DELETE),
    "consent_withdrawn": _on(RECORDING, "recording_id", writes=DELETE),
    "retry": _on(RECORDING, "recording_id"),
    "put_forward": _on(RECORDING, "recording_id"),
    "assign": _on(RECORDING, "recording_id"),
    "unassign": _on(RECORDING, "recording_id", writes=DELETE),
    "adjudicator": _on(RECORDING, "recording_id"),
    "calibration": _on(RECORDING, "recording_id"),
    "calibration_submit": _on(RECORDING, "recording_id"),
    "transcript": _on(AuditObject.TRANSCRIPT, "recording_id"),
    "speakers": _on(AuditObject.TRANSCRIPT, "recording_id"),
    "speakers_swap": _on(AuditObject.TRANSCRIPT, "recording_id"),
    "transcript_edits": _on(AuditObject.TRANSCRIPT, "recording_id"),
    "transcript_edit": _on(AuditObject.TRANSCRIPT, "recording_id"),
    "media": _on(AuditObject.MEDIA, "recording_id", reads=PLAY),
    "queue": _on(AuditObject.QUEUE),
    "worklist": _on(AuditObject.QUEUE),
    # Ratings and suggestions.
    "ratings": _on(RATING),
    "rate": _on(RATING),
    "adjudicate": _on(RATING),
    "my_rating": _on(RATING),
    "my_rating_save": _on(RATING),
    "my_rating_submit": _on(RATING),
    "consensus": _on(RATING),
    "consensus_submit": _on(RATING),
    "release": _on(RATING),
    "reopen": _on(RATING, "rating_id"),
    "export": _on(AuditObject.EXPORT, reads=EXPORT),
    "suggestion": _on(AuditObject.SUGGESTION, "recording_id"),
    "judgement": _on(AuditObject.SUGGESTION, "recording_id", writes=CREATE),
    "classifier": _on(AuditObject.SUGGESTION),  # the model card: what the suggestions were learnt from
    # Accreditation progress, the agreement audit, and this trail itself.
    "progress": _on(AuditObject.PROGRESS, "trainee_id"),
    "supervision": _on(AuditObject.PROGRESS, "trainee_id", writes=CREATE),
    "supervision_confirm": _on(AuditObject.PROGRESS, "trainee_id"),
    "training_record": _on(AuditObject.PROGRESS, "trainee_id"),
    "agreement": _on(AuditObject.AGREEMENT_REPORT),
    "audit": _on(AuditObject.AGREEMENT_REPORT),
    "agreement_table": _on(AuditObject.AGREEMENT_REPORT, reads=EXPORT),
    "audit_events": _on(AuditObject.AUDIT_TRAIL),
    "audit_log": _on(AuditObject.AUDIT_TRAIL),
    "audit_log_export": _on(AuditObject.AUDIT_TRAIL, reads=EXPORT),
    # Nothing of a patient's or a person's.
    "home": None,  # a redirect
    "login": None,  # the empty form
    "api:scale": None,  # the DIT scale
    "api:openapi": None,
    "healthz": None,
    "readyz": None,
    "metrics": None,  # counts by route name
    "static": None,
}


def declaration(name: str) -> Audited | None:
    if name in ROUTES:
        return ROUTES[name]
    return ROUTES[name.removeprefix("api:")]


def undeclared(routes: list[BaseRoute], prefix: str = "") -> list[str]:
    """Route names missing from ROUTES: the app will not start with any."""
    missing = []
    for route in routes:
        name = prefix + route.name
        if isinstance(route, Mount) and route.name != "static":
            missing += undeclared(route.routes, name + ":")
        elif name not in ROUTES and name.removeprefix("api:") not in ROUTES:
            missing.append(name)
    return missing


def resolve(routes: list[BaseRoute], scope, prefix: str = "") -> tuple[str, dict] | None:
    """The name and path parameters of the route the router will choose (a method it does not allow
    included: that is refused, and still an attempt)."""
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        if match == Match.NONE:
            continue
        name = prefix + route.name
        if isinstance(route, Mount) and route.name != "static":
            return resolve(route.routes, {**scope, **child}, name + ":")
        if match == Match.FULL:
            return name, child.get("path_params", {})
        partial = partial or (name, child.get("path_params", {}))
    return partial


class AuditTrail:
    def __init__(self, app, routes: list[BaseRoute]) -> None:
        if missing := undeclared(routes):
            raise RuntimeError(f"Routes missing from server/web/trail.py's ROUTES: {', '.join(missing)}")
        self.app = app
        self.routes = routes

    async def __call__(self, scope, receive, send) -> None:
        found = resolve(self.routes, scope) if scope["type"] == "http" else None
        audited = declaration(found[0]) if found else None
        if audited is None:
            await self.app(scope, receive, send)
            return
        name, params = found
        object_id = params.get(audited.id_param) if audited.id_param else None
        headers = dict(scope["headers"])
        entry = audit_trail.Entry(
            action=audited.reads if scope["method"] in SAFE_METHODS else audited.writes,
            object=audited.object,
            # An id no row can have (a scanner's 2**64) is no object's: the attempt is kept, without it.
            object_id=object_id if isinstance(object_id, int) and possible_id(object_id) else None,
            route=name,
            address=(scope.get("client") or ("", 0))[0][:64],
            user_agent=headers.get(b"user-agent", b"").decode("latin-1")[:255],
        )
        token = audit_trail.begin(entry)
        started = False

        async def send_once_recorded(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                _take_user(entry, scope)
                status = entry.error_status or message["status"]
                await audit_trail.record(entry, audit_trail.outcome_of(status), status)
            await send(message)

        try:
            await self.app(scope, receive, send_once_recorded)
        except Exception:
            if not started:
                _take_user(entry, scope)
                try:
                    await audit_trail.record(entry, audit_trail.outcome_of(500), 500)
                except Exception:
                    log.exception("an audit row could not be written for a request that failed")
            raise
        finally:
            audit_trail.end(token)


def _take_user(entry: audit_trail.Entry, scope) -> None:
    """The signed-in caller, unless the request itself named one (a sign-in names its account)."""
    user = scope.get("user")
    if entry.user_id is None and getattr(user, "is_authenticated", False):
        audit_trail.attribute(entry, user)
