"""The rating pages through the real app: the queue, the rating form (the phase's items only, the draft
as saved), the blind comparison, released feedback and adjudication; each page answers 403/404 as the
API it is built on does."""

from __future__ import annotations

import contextlib
import html
import re

import httpx
import pytest

from rating.scale import load_scale
from server.models import Transcript
from speechfixtures.recorded import jfk_wav
from tests.conftest import open_case, upload
from tests.test_access import login_by_cookie

SCALE = load_scale()
MIDDLE = [item.id for item in SCALE.items_for("middle")]
NOT_MIDDLE = [item.id for item in SCALE.items if item.id not in MIDDLE]
SEGMENTS = [
    {"start": 0.0, "end": 3.2, "speaker": "therapist", "text": "How have you been since we last met?", "words": []},
    {"start": 3.2, "end": 7.9, "speaker": "patient", "text": "Low. I keep going over the argument with my sister.", "words": []},
    {"start": 7.9, "end": 11.0, "speaker": "therapist", "text": "What was happening between you?", "words": []},
]


@pytest.fixture
async def recording(people) -> int:
    """A middle-phase session (6) of the trainee's case, with a three-line transcript."""
    case_id = await open_case(people["trainee"], "DIT-600")
    response = await upload(people["trainee"], case_id, 6, jfk_wav())
    assert response.status_code == 201, response.text
    recording_id = response.json()["id"]
    await Transcript.create(recording_id=recording_id, language="en", engine="test", model="test",
                            data={"language": "en", "engine": "test", "model": "test", "duration": 11.0,
                                  "segments": SEGMENTS})
    return recording_id


@pytest.fixture
async def browsers(app):
    """Cookie-logged-in clients, one per username, opened on first use."""
    clients: dict[str, httpx.AsyncClient] = {}
    async with contextlib.AsyncExitStack() as stack:

        async def open_as(username: str) -> httpx.AsyncClient:
            if username not in clients:
                client = await stack.enter_async_context(
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver"))
                if username != "anonymous":
                    await login_by_cookie(client, username)
                clients[username] = client
            return clients[username]

        yield open_as


async def assign(people, recording_id: int, *supervisors: str) -> None:
    for supervisor in supervisors:
        response = await people["lead"].post(f"/api/recordings/{recording_id}/assignments", json={"supervisor": supervisor})
        assert response.status_code == 201, response.text


async def rate(people, who: str, recording_id: int, scores: dict, submit: bool = True, **fields) -> dict:
    response = await people[who].request("PUT", f"/api/recordings/{recording_id}/ratings/mine",
                                         json={"scores": scores, **fields})
    assert response.status_code == 200, response.text
    if submit:
        response = await people[who].post(f"/api/recordings/{recording_id}/ratings/mine/submit")
        assert response.status_code == 200, response.text
    return response.json()


def item_ids(page: str) -> list[str]:
    return re.findall(r'<section class="rate-item[^"]*" id="item-[^"]+" data-item="([^"]+)"', page)


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


async def test_the_queue_lists_what_awaits_the_supervisor(people, browsers, recording):
    sue = await browsers("supervisor")
    empty = await sue.get("/queue")
    assert empty.status_code == 200 and "Nothing awaits your rating" in empty.text

    await assign(people, recording, "supervisor")
    queue = await sue.get("/queue")
    assert queue.status_code == 200
    row = re.search(rf'<tr id="queue-{recording}">(.*?)</tr>', queue.text, re.DOTALL).group(1)
    assert "DIT-600" in row and ">6<" in row and "Middle" in row and "0:11" in row
    assert "queued" in row and "not started" in row
    assert f'href="/recordings/{recording}/rate"' in row

    await rate(people, "supervisor", recording, {MIDDLE[0]: 3}, submit=False)
    assert "draft saved" in (await sue.get("/queue")).text
    other = await browsers("other_supervisor")
    assert "Nothing awaits your rating" in (await other.get("/queue")).text


async def test_the_rating_page_has_the_phase_items_and_the_saved_draft(people, browsers, recording):
    await assign(people, recording, "supervisor")
    await rate(people, "supervisor", recording, {MIDDLE[0]: 4}, submit=False,
               comments={MIDDLE[0]: "Keeps returning to the IPAF <b>focus</b>."}, evidence={MIDDLE[0]: [1, 2]},
               overall_comment="A careful session.")
    page = await (await browsers("supervisor")).get(f"/recordings/{recording}/rate")
    assert page.status_code == 200
    assert item_ids(page.text) == MIDDLE
    for item_id in NOT_MIDDLE:
        assert f'data-item="{item_id}"' not in page.text
    assert 'id="item-ipaf-focus"' in page.text and 'id="item-goodbye-letter"' not in page.text

    # Title, description, every score with its anchor, a comment box, the evidence control.
    first = SCALE.item(MIDDLE[0])
    assert first.title in page.text and html.escape(first.anchors[6]) in page.text
    assert len(re.findall(rf'name="score:{MIDDLE[0]}" value="\d"', page.text)) == SCALE.max_score - SCALE.min_score + 1
    # The draft as saved: the score checked, the comment (escaped), the evidence as timestamps.
    assert re.search(rf'name="score:{MIDDLE[0]}" value="4" checked', page.text)
    assert not re.search(rf'name="score:{MIDDLE[1]}" value="\d" checked', page.text)
    assert "Keeps returning to the IPAF &lt;b&gt;focus&lt;/b&gt;." in page.text
    evidence = re.search(rf'id="item-{MIDDLE[0]}".*?<ul class="evidence-list"[^>]*>(.*?)</ul>', page.text, re.DOTALL).group(1)
    assert re.findall(r'class="moment" href="#t=([\d.]+)"', evidence) == ["3.2", "7.9"]
    assert "A careful session." in page.text
    # The player, the transcript with speakers and times, the shortcuts, the autosave endpoint.
    assert f'src="/api/recordings/{recording}/media"' in page.text
    assert page.text.count('class="segment speaker-') == 3 and ">Patient<" in page.text and ">0:03<" in page.text
    assert "Keyboard shortcuts" in page.text
    assert f'data-save-url="/api/recordings/{recording}/ratings/mine"' in page.text
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', page.text)


async def test_pages_answer_403_and_404_as_the_api_does(people, browsers, recording):
    # Only 'other_supervisor' rates; 'supervisor' supervises the trainee but is not assigned.
    await assign(people, recording, "other_supervisor")
    pages_and_apis = [
        (f"/recordings/{recording}/rate", f"/api/recordings/{recording}/ratings/mine"),
        (f"/recordings/{recording}/ratings", f"/api/recordings/{recording}/ratings"),
        (f"/recordings/{recording}/adjudicate", f"/api/recordings/{recording}/ratings/consensus"),
    ]
    expected = {
        "trainee": [403, 200, 403], "other_trainee": [404, 404, 404], "supervisor": [403, 200, 403],
        "other_supervisor": [200, 200, 403], "lead": [403, 200, 409], "admin": [403, 200, 409],
    }
    for role, codes in expected.items():
        client = await browsers(role)
        for (page_url, api_url), code in zip(pages_and_apis, codes):
            page = await client.get(page_url)
            api = await people[role].get(api_url)
            assert (page.status_code, api.status_code) == (code, code), (role, page_url)
    anonymous = await browsers("anonymous")
    for page_url in ["/queue", *(p for p, _ in pages_and_apis)]:
        response = await anonymous.get(page_url)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={page_url}"
    missing = await (await browsers("supervisor")).get("/recordings/999/rate")
    assert missing.status_code == 404


async def test_an_unassigned_supervisors_queue_and_page(people, browsers, recording):
    await assign(people, recording, "supervisor")
    other = await browsers("other_supervisor")
    assert (await other.get(f"/recordings/{recording}/rate")).status_code == 404
    assert (await other.get(f"/recordings/{recording}/ratings")).status_code == 404
    sue = await browsers("supervisor")
    assert (await sue.get(f"/recordings/{recording}/rate")).status_code == 200


async def test_a_submitted_rating_shows_locked_with_its_result(people, browsers, recording):
    await assign(people, recording, "supervisor")
    scores = {item: 4 for item in MIDDLE} | {MIDDLE[2]: 2}
    await rate(people, "supervisor", recording, scores, comments={MIDDLE[2]: "Transference not taken up."},
               evidence={MIDDLE[2]: [2]})
    page = await (await browsers("supervisor")).get(f"/recordings/{recording}/rate?submitted=1")
    assert page.status_code == 200
    assert 'id="rating-form"' not in page.text and 'type="radio"' not in page.text
    text = text_of(page.text)
    assert "Your rating has been submitted and is now locked." in text
    assert "Passed" in text and f"Total {sum(scores.values())}" in text
    assert f"Mean {sum(scores.values()) / len(MIDDLE):.2f}" in text
    assert "Transference not taken up." in text and 'href="#t=7.9"' in page.text


async def test_the_trainee_sees_feedback_only_once_released(people, browsers, recording):
    await assign(people, recording, "supervisor")
    await rate(people, "supervisor", recording, {item: 3 for item in MIDDLE},
               comments={MIDDLE[0]: "Held the focus well."}, evidence={MIDDLE[0]: [1]},
               overall_comment="Good work overall.")
    trainee = await browsers("trainee")
    before = await trainee.get(f"/recordings/{recording}/ratings")
    assert before.status_code == 200
    assert "No feedback has been released yet" in before.text
    assert "Held the focus well." not in before.text and 'type="radio"' not in before.text

    lead = await browsers("lead")
    lead_page = await lead.get(f"/recordings/{recording}/ratings")
    assert f'data-api="/api/recordings/{recording}/release"' in lead_page.text
    assert "Reopen rating" in lead_page.text and "supervisor" in lead_page.text
    assert (await people["lead"].post(f"/api/recordings/{recording}/release")).status_code == 200

    after = await trainee.get(f"/recordings/{recording}/ratings")
    assert "No feedback has been released yet" not in after.text
    text = text_of(after.text)
    assert "Passed" in text
    for item in SCALE.items_for("middle"):
        assert item.title in text
    assert "Held the focus well." in text and "Good work overall." in text
    assert f'href="/recordings/{recording}#t=3.2"' in after.text
    assert "Low. I keep going over the argument" in text
    assert "Reopen" not in after.text and "data-api=" not in after.text  # no lead controls
    # Nobody else's trainee sees anything.
    assert (await (await browsers("other_trainee")).get(f"/recordings/{recording}/ratings")).status_code == 404


async def test_the_comparison_stays_hidden_until_both_raters_submit(people, browsers, recording):
    await assign(people, recording, "supervisor", "other_supervisor")
    sue_scores = {item: 4 for item in MIDDLE} | {MIDDLE[1]: 2}
    await rate(people, "supervisor", recording, sue_scores, comments={MIDDLE[0]: "SUE-SAYS-THIS"})
    sid = await browsers("other_supervisor")
    blind = await sid.get(f"/recordings/{recording}/ratings")
    assert blind.status_code == 200
    assert "SUE-SAYS-THIS" not in blind.text and "comparison" not in blind.text
    assert "the other ratings stay hidden until all 2 raters have submitted" in text_of(blind.text)
    assert "Rate this session" in blind.text
    sid_form = await sid.get(f"/recordings/{recording}/rate")
    assert "SUE-SAYS-THIS" not in sid_form.text and 'value="2" checked' not in sid_form.text
    # Sue, submitted, sees her own rating only.
    sue_view = await (await browsers("supervisor")).get(f"/recordings/{recording}/ratings")
    assert "You have submitted your rating." in sue_view.text and "SUE-SAYS-THIS" in sue_view.text
    assert 'class="list comparison"' not in sue_view.text
    # The lead cannot adjudicate yet.
    lead = await browsers("lead")
    assert (await lead.get(f"/recordings/{recording}/adjudicate")).status_code == 409

    sid_scores = {item: 4 for item in MIDDLE} | {MIDDLE[1]: 5, MIDDLE[3]: 3}
    await rate(people, "other_supervisor", recording, sid_scores)
    compared = await sid.get(f"/recordings/{recording}/ratings")
    assert 'class="list comparison"' in compared.text and "SUE-SAYS-THIS" in compared.text
    rows = re.findall(r'<tr class="(differs|agrees)" data-item="([^"]+)">(.*?)</tr>', compared.text, re.DOTALL)
    assert [item for _, item in (r[:2] for r in rows)] == MIDDLE
    differing = {item: body for kind, item, body in rows if kind == "differs"}
    assert set(differing) == {MIDDLE[1], MIDDLE[3]}
    assert 'class="spread spread-3"' in differing[MIDDLE[1]] and ">3</span>" in differing[MIDDLE[1]]
    assert "Rater 1" in compared.text and "Rater 2" in compared.text and "(you)" in compared.text
    assert "2 of " in text_of(compared.text) and "items differ" in compared.text

    # The lead sees names, adjudicates (agreed items pre-filled, differing ones highlighted), then releases.
    lead_page = await lead.get(f"/recordings/{recording}/ratings")
    assert "other_supervisor" in lead_page.text and f'href="/recordings/{recording}/adjudicate"' in lead_page.text
    assert f'data-api="/api/recordings/{recording}/release"' not in lead_page.text
    adjudication = await lead.get(f"/recordings/{recording}/adjudicate")
    assert adjudication.status_code == 200
    assert re.findall(r'class="rate-item adj-item differs[^"]*" id="item-([^"]+)"', adjudication.text) == [MIDDLE[1], MIDDLE[3]]
    assert re.search(rf'name="score:{MIDDLE[0]}" value="4" checked', adjudication.text)
    assert not re.search(rf'name="score:{MIDDLE[1]}" value="\d" checked', adjudication.text)
    assert f'data-save-url="/api/recordings/{recording}/ratings/consensus"' in adjudication.text

    consensus = {item: 4 for item in MIDDLE}
    assert (await people["lead"].request("PUT", f"/api/recordings/{recording}/ratings/consensus",
                                         json={"scores": consensus})).status_code == 200
    assert (await people["lead"].post(f"/api/recordings/{recording}/ratings/consensus/submit")).status_code == 200
    settled = await lead.get(f"/recordings/{recording}/adjudicate")
    assert 'id="rating-form"' not in settled.text and "Consensus rating" in settled.text
    lead_page = await lead.get(f"/recordings/{recording}/ratings")
    assert f'data-api="/api/recordings/{recording}/release"' in lead_page.text
