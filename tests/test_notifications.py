"""Notifications: listed in the service with an unread count, and emailed through a real SMTP server
(aiosmtpd, started here) to those who want them, with links and never clinical content."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import httpx
import pytest

from rating.scale import load_scale
from server.models import EmailState, Notification
from server.services.notifications import deliver
from server.services.reminders import remind_deadlines
from tests.conftest import open_case, run_queued_jobs, upload
from tests.smtp import smtp_server
from tests.test_access import login_by_cookie

MIDDLE = [item.id for item in load_scale().items_for("middle")]
PUBLIC = "https://dit.example.nhs.uk"


@pytest.fixture
def inbox():
    with smtp_server() as (inbox, port):
        inbox.port = port
        yield inbox


@pytest.fixture
def settings(settings, inbox):
    return replace(settings, smtp_url=f"smtp://127.0.0.1:{inbox.port}", public_url=PUBLIC, double_rating_share=0.0)


async def rate(client, recording_id: int) -> None:
    await client.request("PUT", f"/api/recordings/{recording_id}/ratings/mine", json={"scores": {i: 4 for i in MIDDLE}})
    assert (await client.post(f"/api/recordings/{recording_id}/ratings/mine/submit")).status_code == 200


async def test_people_are_told_in_the_service_and_by_email_without_clinical_content(people, settings, media_files,
                                                                                   inbox, app):
    trainee, sue, sid, lead = people["trainee"], people["supervisor"], people["other_supervisor"], people["lead"]
    for who, address, opt_out in ((sue, "sue@example.nhs.uk", []), (trainee, "tia@example.nhs.uk", ["released"]),
                                  (lead, "lee@example.nhs.uk", []), (sid, None, [])):
        chosen = await who.request("PUT", "/api/me/email", json={"email": address, "opt_out": opt_out})
        assert chosen.status_code == 200 and chosen.json()["opt_out"] == opt_out
    bad = await sue.request("PUT", "/api/me/email", json={"email": "not an address", "opt_out": []})
    assert bad.status_code == 400
    assert (await sue.request("PUT", "/api/me/email", json={"opt_out": ["gossip"]})).status_code == 400
    # The refusals changed nothing: Sue still has her address.
    case_id = await open_case(trainee, "DIT-600")
    rid = (await upload(trainee, case_id, 6, media_files["short"])).json()["id"]
    await run_queued_jobs(settings)

    # Assigned: Sue is told, and emailed a link to the rating page.
    await lead.post(f"/api/recordings/{rid}/assignments", json={"supervisor": "supervisor"})
    (mail,) = await inbox.wait_for(1)
    assert mail["To"] == "sue@example.nhs.uk" and mail["Subject"] == "DIT supervision: a recording to rate"
    body = mail.get_content()
    assert f"{PUBLIC}/recordings/{rid}/rate" in body and "DIT-600" not in body and "Trainee" not in body
    listed = (await sue.get("/api/notifications")).json()
    assert listed["unread"] == 1
    assert [(n["kind"], n["link"], n["read"]) for n in listed["notifications"]] == [
        ("assigned", f"/recordings/{rid}/rate", False)]

    # Released: the trainee is told in the service; they chose no email for it.
    await rate(sue, rid)
    assert (await lead.post(f"/api/recordings/{rid}/release")).status_code == 200
    released = (await trainee.get("/api/notifications")).json()["notifications"]
    assert [(n["kind"], n["link"]) for n in released] == [("released", f"/recordings/{rid}/ratings")]
    assert (await Notification.get(id=released[0]["id"])).email == EmailState.SKIPPED

    # Reopened: Sue is told why she must revise, by email too.
    rating_id = (await sue.get(f"/api/recordings/{rid}/ratings/mine")).json()["id"]
    await lead.post(f"/api/ratings/{rating_id}/reopen", json={"reason": "Item 3 needs evidence.", "released": "keep"})
    assert [m["Subject"] for m in await inbox.wait_for(2)][1] == "DIT supervision: a rating reopened"

    # A double rating complete: the course lead is told to adjudicate.
    other = (await upload(trainee, case_id, 7, media_files["short"])).json()["id"]
    await run_queued_jobs(settings)
    for supervisor in ("supervisor", "other_supervisor"):
        await lead.post(f"/api/recordings/{other}/assignments", json={"supervisor": supervisor})
    await rate(sue, other)
    assert not [n for n in (await lead.get("/api/notifications")).json()["notifications"]
                if n["kind"] == "adjudication_needed"]
    await rate(sid, other)
    mails = await inbox.wait_for(4)
    assert [m["To"] for m in mails if "adjudicate" in m["Subject"]] == ["lee@example.nhs.uk"]
    assert f"{PUBLIC}/recordings/{other}/ratings" in mails[-1].get_content()
    # Sid has no address: told in the service only.
    assert {n["kind"] for n in (await sid.get("/api/notifications")).json()["notifications"]} == {"assigned"}

    # Read: one, then all; another's is not found.
    first = (await sue.get("/api/notifications")).json()["notifications"][-1]
    assert (await trainee.post(f"/api/notifications/{first['id']}/read")).status_code == 404
    read = await sue.post(f"/api/notifications/{first['id']}/read")
    assert read.status_code == 200 and read.json()["unread"] == 2
    # On the pages: the count in the navigation, the list, and opening one goes where it points.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        await login_by_cookie(browser, "supervisor")
        page = (await browser.get("/notifications")).text
        assert 'aria-label="2 unread"' in page and "A rating reopened" in page
        newest = (await sue.get("/api/notifications")).json()["notifications"][0]
        opened = await browser.get(f"/notifications/{newest['id']}")
        assert opened.status_code == 303 and opened.headers["location"] == newest["link"]
    assert (await sue.post("/api/notifications/read")).json() == {"unread": 0}
    assert all(n["read"] for n in (await sue.get("/api/notifications")).json()["notifications"])
    assert len(inbox.messages) == 4


async def test_an_approaching_deadline_is_told_once_a_week_and_a_failed_email_is_tried_again(people, settings,
                                                                                             inbox):
    trainee, lead = people["trainee"], people["lead"]
    tid = trainee.user.id
    await trainee.request("PUT", "/api/me/email", json={"email": "tia@example.nhs.uk", "opt_out": []})
    # Supervision hours are due a year after the training: 35 days left, inside the 60-day warning.
    started = date.today() - timedelta(days=330)
    await lead.request("PUT", f"/api/trainees/{tid}/training-record", json={"training_completed_on": str(started)})
    broken = replace(settings, smtp_url="smtp://127.0.0.1:9")  # nothing listens there
    assert await remind_deadlines(broken) == 1
    assert await remind_deadlines(broken) == 0  # told this week already
    listed = (await trainee.get("/api/notifications")).json()["notifications"]
    assert [(n["kind"], n["link"]) for n in listed] == [("deadline", f"/trainees/{tid}/progress")]
    # The mail server was down: the email waits, and goes once it is back.
    assert await deliver(broken) == 0
    row = await Notification.get(id=listed[0]["id"])
    assert (row.email, row.email_attempts) == (EmailState.PENDING, 1)
    assert await deliver(settings) == 1
    (mail,) = await inbox.wait_for(1)
    assert mail["Subject"] == "DIT supervision: a deadline approaching" and f"/trainees/{tid}/progress" in mail.get_content()
    assert (await Notification.get(id=row.id)).email == EmailState.SENT
