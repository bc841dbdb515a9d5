"""Signing in, through the real app: throttling, sessions and tokens that end when they should,
multi-factor sign-in, set-password links, and refusals of malformed input."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from datetime import timedelta

import httpx
import pyotp
import pytest

from server.clock import now
from server.models import ApiToken, Role, User, UserSession
from tests.conftest import PASSWORD
from tests.test_access import login_by_cookie

NEW_PASSWORD = "violet canal orbit lantern"


def browser(app, address: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 50000)),
                             base_url="http://testserver")


async def token_for(http, username: str, password: str = PASSWORD, **extra) -> httpx.Response:
    return await http.post("/api/token", json={"username": username, "password": password, **extra})


async def test_the_sixth_wrong_password_for_an_account_is_throttled(people, http):
    for _ in range(5):
        assert (await token_for(http, "trainee", "not the password")).status_code == 401
    sixth = await token_for(http, "trainee", "not the password")
    assert sixth.status_code == 429
    assert 1 <= int(sixth.headers["retry-after"]) <= 15 * 60
    assert "Try again in 15 minutes" in sixth.json()["error"]
    # Throttled, the right password is refused too; other accounts are not affected.
    assert (await token_for(http, "trainee")).status_code == 429
    assert (await token_for(http, "supervisor")).status_code == 200


async def test_a_success_clears_the_accounts_failures(people, http):
    for _ in range(4):
        assert (await token_for(http, "trainee", "not the password")).status_code == 401
    assert (await token_for(http, "trainee")).status_code == 200
    for _ in range(4):
        assert (await token_for(http, "trainee", "not the password")).status_code == 401
    assert (await token_for(http, "trainee")).status_code == 200


async def test_twenty_failures_from_one_address_throttle_it(people, app):
    async with browser(app, "10.9.8.7") as guesser, browser(app, "10.9.8.8") as other:
        for number in range(20):
            assert (await token_for(guesser, f"nobody{number}", "guess")).status_code == 401
        assert (await token_for(guesser, "trainee")).status_code == 429
        assert (await token_for(other, "trainee")).status_code == 200


async def test_the_sign_in_page_says_when_to_try_again(people, app):
    async with browser(app) as page:
        form = await page.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        for _ in range(5):
            wrong = await page.post("/login", data={"username": "trainee", "password": "no", "csrf_token": csrf})
            assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
        throttled = await page.post("/login", data={"username": "trainee", "password": PASSWORD, "csrf_token": csrf})
        assert throttled.status_code == 429 and "Try again in 15 minutes" in throttled.text
        assert throttled.headers["retry-after"]


@pytest.mark.parametrize("body", [
    {"username": "u" * 65, "password": "x"},
    {"username": "trainee", "password": "x" * 257},
    {"username": ["trainee"], "password": "x"},
    {"username": "", "password": ""},
])
async def test_malformed_sign_in_gets_a_400(people, http, body):
    response = await http.post("/api/token", json=body)
    assert response.status_code == 400 and response.json()["error"]


async def test_an_over_long_username_on_the_page_gets_a_400_and_a_huge_body_a_413(people, app):
    async with browser(app) as page:
        form = await page.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        long = await page.post("/login", data={"username": "u" * 65, "password": "x", "csrf_token": csrf})
        assert long.status_code == 400 and "at most 64 characters" in long.text
        huge = await page.post("/login", data={"username": "u", "password": "x" * 100_000, "csrf_token": csrf})
        assert huge.status_code == 413


async def test_sign_out_ends_the_saved_cookie_and_the_token(people, app, http):
    async with browser(app) as page:
        csrf = await login_by_cookie(page, "trainee")
        saved = dict(page.cookies)
        assert (await page.post("/logout", data={"csrf_token": csrf})).status_code == 303
    async with browser(app) as replay:
        replay.cookies.update(saved)
        assert (await replay.get("/cases")).headers["location"].startswith("/login")
    token = (await token_for(http, "trainee")).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await http.post("/api/logout", headers=headers)).status_code == 204
    assert (await http.get("/api/me", headers=headers)).status_code == 401


async def signed_in_everywhere(app, http, username: str):
    """A saved page cookie and an API token of the user."""
    async with browser(app) as page:
        await login_by_cookie(page, username)
        cookies = dict(page.cookies)
    token = (await token_for(http, username)).json()["token"]
    return cookies, {"Authorization": f"Bearer {token}"}


async def still_works(app, http, cookies, headers) -> tuple[bool, bool]:
    async with browser(app) as replay:
        replay.cookies.update(cookies)
        page_ok = (await replay.get("/cases")).status_code == 200
    return page_ok, (await http.get("/api/me", headers=headers)).status_code == 200


async def test_a_password_change_ends_every_session_and_token(people, app, http):
    cookies, headers = await signed_in_everywhere(app, http, "trainee")
    assert await still_works(app, http, cookies, headers) == (True, True)
    refused = await http.post("/api/me/password", headers=headers,
                              json={"current_password": PASSWORD, "new_password": "password1234"})
    assert refused.status_code == 422 and "common" in refused.json()["error"]
    wrong = await http.post("/api/me/password", headers=headers,
                            json={"current_password": "not it", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and wrong.json()["errors"] == {"current_password": "Not right."}
    changed = await http.post("/api/me/password", headers=headers,
                              json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert changed.status_code == 204
    assert await still_works(app, http, cookies, headers) == (False, False)
    assert (await token_for(http, "trainee")).status_code == 401
    assert (await token_for(http, "trainee", NEW_PASSWORD)).status_code == 200


async def test_revoking_a_session_or_a_token_ends_it(people, app, http):
    cookies, headers = await signed_in_everywhere(app, http, "supervisor")
    listing = (await http.get("/api/me/sessions", headers=headers)).json()
    assert len(listing["sessions"]) == 1 and listing["sessions"][0]["address"] == "127.0.0.1"
    mine = [t for t in listing["tokens"] if t["current"]]
    assert mine and mine[0]["last_used_from"] == "127.0.0.1"
    assert (await http.delete(f"/api/me/sessions/{listing['sessions'][0]['id']}", headers=headers)).status_code == 204
    assert await still_works(app, http, cookies, headers) == (False, True)
    assert (await http.delete(f"/api/me/tokens/{mine[0]['id']}", headers=headers)).status_code == 204
    assert (await http.get("/api/me", headers=headers)).status_code == 401


async def test_deactivation_ends_the_users_sessions_and_tokens_and_keeps_them_out(people, app, http):
    cookies, headers = await signed_in_everywhere(app, http, "other_trainee")
    user_id = people["other_trainee"].user.id
    refused = await people["lead"].post(f"/api/users/{user_id}/deactivate")
    assert refused.status_code == 403
    deactivated = await people["admin"].post(f"/api/users/{user_id}/deactivate")
    assert deactivated.status_code == 200 and deactivated.json()["active"] is False
    assert await still_works(app, http, cookies, headers) == (False, False)
    assert (await token_for(http, "other_trainee")).status_code == 401
    listed = {u["username"]: u for u in (await people["lead"].get("/api/users")).json()["users"]}
    assert listed["other_trainee"]["active"] is False
    assert (await people["admin"].post(f"/api/users/{user_id}/reactivate")).json()["active"] is True
    assert (await token_for(http, "other_trainee")).status_code == 200


async def test_idle_and_expired_sessions_and_tokens_stop_working(people, app, http, settings):
    cookies, headers = await signed_in_everywhere(app, http, "trainee")
    await UserSession.filter(user__username="trainee").update(
        last_seen_at=now() - timedelta(minutes=settings.session_idle_minutes + 1))
    await ApiToken.filter(user__username="trainee").update(expires_at=now() - timedelta(seconds=1))
    assert await still_works(app, http, cookies, headers) == (False, False)


async def test_a_new_user_sets_a_password_from_a_one_time_link(people, app, http):
    created = await people["admin"].post("/api/users", json={"username": "sam", "name": "Sam Rater",
                                                             "role": "supervisor", "accredited_on": "2026-01-05"})
    assert created.status_code == 201, created.text
    link = created.json()["password_link"]
    path = httpx.URL(link).path
    assert created.json()["accredited_on"] == "2026-01-05" and created.json()["mfa"] is False
    assert (await token_for(http, "sam", NEW_PASSWORD)).status_code == 401
    async with browser(app) as page:
        form = await page.get(path)
        assert form.status_code == 200 and "sam" in form.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        weak = await page.post(path, data={"new_password": "sam12345678", "again": "sam12345678", "csrf_token": csrf})
        assert weak.status_code == 422
        done = await page.post(path, data={"new_password": NEW_PASSWORD, "again": NEW_PASSWORD, "csrf_token": csrf})
        assert done.status_code == 303
        assert (await page.get(path)).status_code == 404
    assert (await token_for(http, "sam", NEW_PASSWORD)).status_code == 200


async def test_multi_factor_sign_in_through_the_api(people, app, http):
    async with browser(app) as page:
        await login_by_cookie(page, "supervisor")
        enrol = await page.get("/account/mfa")
        secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', enrol.text).group(1)
        assert "<svg" in enrol.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', enrol.text).group(1)
        turned_on = await page.post("/account/mfa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf})
        codes = re.findall(r"<li><code>([^<]+)</code></li>", turned_on.text)
        assert turned_on.status_code == 200 and len(codes) == 10
    assert (await token_for(http, "supervisor")).status_code == 401  # the code is missing
    totp = pyotp.TOTP(secret)
    code = totp.at(time.time() + 30)  # the next step: the one enrolment used cannot be used again
    assert (await token_for(http, "supervisor", otp=code)).status_code == 200
    assert (await token_for(http, "supervisor", otp=code)).status_code == 401  # replayed
    assert (await token_for(http, "supervisor", otp=codes[0])).status_code == 200
    assert (await token_for(http, "supervisor", otp=codes[0])).status_code == 401  # a recovery code works once
    user = await User.get(username="supervisor")
    assert len(user.recovery_codes) == 9 and user.mfa_enabled_at is not None


@pytest.mark.settings(mfa_required_roles=frozenset({"admin"}))
async def test_a_role_that_needs_a_second_factor_must_set_it_up_first(people, app, http):
    refused = await token_for(http, "admin")
    assert refused.status_code == 403 and "authenticator" in refused.json()["error"]
    assert (await people["admin"].get("/api/cases")).status_code == 403  # an older token, too
    async with browser(app) as page:
        await login_by_cookie(page, "admin")
        cases = await page.get("/cases")
        assert cases.status_code == 303 and cases.headers["location"] == "/account/mfa"
        assert (await page.get("/account/mfa")).status_code == 200
    assert (await token_for(http, "lead")).status_code == 200


async def test_other_users_stay_fast_while_four_clients_guess_passwords(people, app, http):
    """Guessing costs Argon2 hashes, which run off the event loop: a signed-in user's reads are not
    queued behind them. (A loose bound; bench/signin.py measures it.)"""
    reader = people["supervisor"]
    stop = asyncio.Event()

    async def guess(address: str) -> None:
        async with browser(app, address) as guesser:
            number = 0
            while not stop.is_set():
                await token_for(guesser, f"someone{address}-{number % 4}", f"guess {number}")
                number += 1

    guessers = [asyncio.create_task(guess(f"10.0.0.{n}")) for n in range(1, 5)]
    await asyncio.sleep(0.2)
    latencies = []
    for _ in range(20):
        started = time.perf_counter()
        assert (await reader.get("/api/me")).status_code == 200
        latencies.append(time.perf_counter() - started)
    stop.set()
    await asyncio.gather(*guessers)
    assert statistics.median(latencies) < 0.25, latencies


async def test_demo_accounts_only_when_asked_for(app):
    assert not await User.filter(role=Role.ADMIN).exists()
