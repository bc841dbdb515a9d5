"""An account's life in a real browser, against the real service: the admin adds a supervisor and reads
the one-time link; the supervisor sets a password (a weak one refused), sets up multi-factor sign-in and
signs in with a code, changes their password (an old cookie then opens nothing); the admin deactivates
them and their open page stops working. Also, against the same real service: guesses sent at once are
held to the throttle's limit."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pyotp
import pytest

from tests.browser import ARTIFACTS, launch, log_in

USERNAME = "rashby"
FULL_NAME = "Rowan Ashby"
WEAK_PASSWORD = "password1234"
PASSWORD = "heron quarry tangerine saddle"
NEW_PASSWORD = "walnut beacon drizzle ferry"


def fresh_code(totp: pyotp.TOTP, used_step: int) -> tuple[str, int]:
    """A code the service has not seen, and its time step: the current one, or the next 30-second step's
    when the current was just used (a code is good once; the service accepts one step either side)."""
    step = max(totp.timecode(time.time()), used_step + 1)
    return totp.generate_otp(step), step


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"accounts-{name}.png"), full_page=True)


@pytest.mark.slow
@pytest.mark.browser
def test_an_account_from_its_link_to_its_deactivation_in_chromium(service):
    from playwright.sync_api import expect, sync_playwright

    url, logins = service
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        script_errors = []

        def new_page():
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.on("weberror", lambda error: script_errors.append(str(error.error)))
            return context.new_page()

        # The admin adds a supervisor and is shown the one-time set-password link.
        admin = new_page()
        log_in(admin, url, "admin", logins["admin"])
        admin.click("nav >> text=Accounts")
        expect(admin.locator("h1")).to_have_text("Accounts")
        form = admin.locator("form[action='/users']")
        form.locator("input[name=username]").fill(USERNAME)
        form.locator("input[name=name]").fill(FULL_NAME)
        form.locator("select[name=role]").select_option("supervisor")
        form.locator("button:has-text('Add')").click()
        expect(admin.locator("h1")).to_have_text(f"Added {USERNAME}")
        link = admin.locator("#password-link").inner_text().strip()
        assert re.fullmatch(re.escape(url) + r"/password/[\w-]{20,}", link), link
        shot(admin, "1-link")

        # Another person, in their own browser context, opens the link.
        supervisor = new_page()
        supervisor.goto(link)
        expect(supervisor.locator("h1")).to_have_text("Set your password")
        expect(supervisor.locator("main")).to_contain_text(USERNAME)
        supervisor.fill("input[name=new_password]", WEAK_PASSWORD)
        supervisor.fill("input[name=again]", WEAK_PASSWORD)
        supervisor.click("button:has-text('Set password')")
        refusal = supervisor.locator(".alert")
        expect(refusal).to_contain_text(re.compile(r"common|guess", re.IGNORECASE))
        shot(supervisor, "2-weak-password")
        supervisor.fill("input[name=new_password]", PASSWORD)
        supervisor.fill("input[name=again]", PASSWORD)
        supervisor.click("button:has-text('Set password')")
        supervisor.wait_for_url(re.compile(r"/login\?password=set$"))
        expect(supervisor.locator(".notice")).to_contain_text("Your password is set")
        response = supervisor.goto(link)
        assert response.status == 404
        expect(supervisor.locator("main")).to_contain_text("expired or was used already")
        log_in(supervisor, url, USERNAME, PASSWORD)

        # Their account page: multi-factor sign-in, with the key typed into the "app" instead of the QR code.
        supervisor.click(f".who >> text={FULL_NAME}")
        expect(supervisor.locator("h1")).to_contain_text("Your account")
        expect(supervisor.locator("#mfa-heading + p")).to_contain_text("Off.")
        supervisor.click("text=Set up an authenticator app")
        expect(supervisor.locator(".qr svg")).to_be_visible()
        totp = pyotp.TOTP(supervisor.locator("#mfa-secret").inner_text().strip())
        shot(supervisor, "3-mfa-enrolment")
        code, used_step = fresh_code(totp, -1)
        supervisor.fill("input[name=code]", code)
        supervisor.click("button:has-text('Turn on')")
        expect(supervisor.locator("h1")).to_have_text("Multi-factor sign-in is on")
        codes = supervisor.locator("#recovery-codes li code")
        expect(codes).to_have_count(10)
        assert len(set(codes.all_inner_texts())) == 10
        shot(supervisor, "4-recovery-codes")
        supervisor.click("text=Done")
        expect(supervisor.locator("#mfa-heading + p")).to_contain_text("10 recovery codes left")

        # Signed out and in again, the password alone is not enough: the second step asks for a code.
        supervisor.click(".who button:has-text('Log out')")
        supervisor.wait_for_url(re.compile(r"/login$"))
        supervisor.fill("input[name=username]", USERNAME)
        supervisor.fill("input[name=password]", PASSWORD)
        supervisor.click("button:has-text('Log in')")
        expect(supervisor.locator("h1")).to_have_text("Log in: second step")
        shot(supervisor, "5-second-step")
        code, used_step = fresh_code(totp, used_step)
        supervisor.fill("input[name=code]", code)
        supervisor.click("button:has-text('Log in')")
        supervisor.wait_for_url(re.compile(r"/queue$"))
        expect(supervisor.locator(".who")).to_contain_text(FULL_NAME)

        # A password change keeps this browser signed in; a copy of its cookie from before opens nothing.
        old_cookies = supervisor.context.cookies()
        supervisor.click(f".who >> text={FULL_NAME}")
        supervisor.fill("input[name=current_password]", PASSWORD)
        supervisor.fill("input[name=new_password]", NEW_PASSWORD)
        supervisor.click("button:has-text('Change password')")
        supervisor.wait_for_url(re.compile(r"/account\?changed=1$"))
        expect(supervisor.locator(".notice")).to_contain_text("Your password is changed")
        expect(supervisor.locator("[aria-labelledby=sessions-heading] tbody tr")).to_have_count(1)
        expect(supervisor.locator("[aria-labelledby=sessions-heading] tbody tr")).to_contain_text("this one")
        shot(supervisor, "6-password-changed")
        supervisor.click("nav >> text=Cases")
        supervisor.wait_for_url(re.compile(r"/cases$"))
        expect(supervisor.locator(".who")).to_contain_text(FULL_NAME)
        replay = new_page()
        replay.context.add_cookies(old_cookies)
        replay.goto(url + "/cases")
        replay.wait_for_url(re.compile(r"/login\?next=/cases$"))
        expect(replay.locator("h1")).to_have_text("Log in")

        # The admin deactivates the supervisor; the supervisor's open page stops at their next request.
        admin.click("nav >> text=Accounts")
        admin.click(f"a:text-is('{USERNAME}')")
        expect(admin.locator("h1")).to_contain_text(FULL_NAME)
        admin.click("button:has-text('Deactivate')")
        expect(admin.locator("h1 small")).to_contain_text("deactivated")
        expect(admin.locator("button:has-text('Reactivate')")).to_be_visible()
        supervisor.reload()
        supervisor.wait_for_url(re.compile(r"/login\?next=/cases$"))
        supervisor.fill("input[name=username]", USERNAME)
        supervisor.fill("input[name=password]", NEW_PASSWORD)
        supervisor.click("button:has-text('Log in')")
        expect(supervisor.locator(".alert")).to_have_text("Wrong username or password.")
        expect(supervisor.locator("h1")).to_have_text("Log in")
        shot(supervisor, "7-deactivated-sign-in")

        # The admin's list shows them deactivated, with multi-factor sign-in on.
        admin.click("nav >> text=Accounts")
        row = admin.locator("tbody tr", has=admin.locator(f"a:text-is('{USERNAME}')"))
        expect(row).to_have_class("user-inactive")
        cells = row.locator("td")
        expect(cells.nth(1)).to_have_text(FULL_NAME)
        expect(cells.nth(2)).to_have_text("Supervisor")
        expect(cells.nth(7)).to_have_text("on")
        expect(cells.nth(8)).to_have_text("deactivated")
        shot(admin, "8-accounts-list")

        assert script_errors == []
        browser.close()


@pytest.mark.slow
def test_guesses_sent_at_once_are_held_to_the_accounts_limit(service):
    """Against the real server: twenty guesses leaving together still meet the account's limit of five."""
    url, _ = service
    guesses = 20  # the address's limit: a correct throttle answers 5 of them 401 and the rest 429

    async def guess_at_once() -> list[int]:
        clients = [httpx.AsyncClient(base_url=url, timeout=120) for _ in range(guesses)]
        try:
            # Connections first, so that the guesses leave together.
            await asyncio.gather(*(client.get("/login") for client in clients))
            answers = await asyncio.gather(*(client.post("/api/token", json={
                "username": "supervisor", "password": f"guess number {n}"}) for n, client in enumerate(clients)))
        finally:
            await asyncio.gather(*(client.aclose() for client in clients))
        return [answer.status_code for answer in answers]

    answers = asyncio.run(guess_at_once())
    assert sorted(answers) == [401] * 5 + [429] * (guesses - 5), answers
