"""The transcript page in a real browser, against the real service started as a newcomer would."""

from __future__ import annotations

import re

import pytest

from speechfixtures.recorded import jfk_wav
from tests.browser import ARTIFACTS, launch, log_in, upload_on_case_page


@pytest.mark.slow
@pytest.mark.browser
def test_transcript_page_seeks_and_highlights_in_chromium(service):
    from playwright.sync_api import expect, sync_playwright

    url, logins = service
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        log_in(page, url, "trainee", logins["trainee"])
        page.click("text=DEMO-001")
        upload_on_case_page(page, 7, jfk_wav())
        expect(page.locator("h1")).to_contain_text("Session 7")
        segments = page.locator("#segments .segment")
        expect(segments.first).to_be_visible(timeout=90_000)
        # The page reloads itself when the transcript is ready; its module scripts run just before `load`.
        page.wait_for_load_state("load")
        assert segments.count() >= 2

        second = segments.nth(1)
        start = float(second.get_attribute("data-start"))
        second.click()
        page.wait_for_function(
            f"Math.abs(document.getElementById('player').currentTime - {start}) < 1.0", timeout=10_000
        )
        expect(second).to_have_class(re.compile(r"\bplaying\b"))
        page.screenshot(path=str(ARTIFACTS / "transcript-page.png"), full_page=True)

        # A link to a moment (as evidence links are) opens the page there.
        recording_url = page.url.split("#")[0]
        page.goto("about:blank")
        page.goto(recording_url + "#t=3.5")
        page.wait_for_function("Math.abs(document.getElementById('player').currentTime - 3.5) < 0.2", timeout=10_000)

        # The words corrected by keyboard: e opens the line, Alt+k plays while typing, Enter saves, Esc cancels.
        segments = page.locator("#segments .segment")
        count = segments.count()
        first = segments.first
        recognised = first.locator(".said").inner_text()
        first.focus()
        page.keyboard.press("e")
        box = first.locator("textarea.line-editor")
        expect(box).to_be_focused()
        expect(box).to_have_value(recognised)
        box.fill("And so, my fellow Britons, ask not")
        page.keyboard.press("Alt+k")
        page.wait_for_function("!document.getElementById('player').paused")
        page.keyboard.press("Alt+k")
        page.keyboard.press("Enter")
        expect(first.locator(".said")).to_have_text("And so, my fellow Britons, ask not")
        expect(first.locator("abbr.edited")).to_have_attribute("title", re.compile("Corrected by trainee on .*"
                                                                                    "Recognised as: " + re.escape(recognised)))
        page.reload()  # as the page shows it afresh: who corrected it is for course leads and the corrector
        expect(first.locator("abbr.edited")).to_have_attribute(
            "title", re.compile(r"^Corrected by trainee on \d{4}-\d\d-\d\d\. "))
        page.wait_for_load_state("load")
        first.focus()
        expect(box).to_have_count(0)
        expect(first).to_be_focused()
        page.keyboard.press("e")
        page.keyboard.type(" and more")
        page.keyboard.press("Escape")
        expect(first.locator(".said")).to_have_text("And so, my fellow Britons, ask not")
        page.screenshot(path=str(ARTIFACTS / "transcript-corrected.png"), full_page=True)

        # Shift+Enter splits the line at the cursor (before "fellow"); m merges it with the next again.
        page.keyboard.press("e")
        box.evaluate("el => el.setSelectionRange(11, 11)")
        page.keyboard.press("Shift+Enter")
        expect(segments).to_have_count(count + 1)
        page.wait_for_load_state("load")
        expect(segments.nth(1).locator(".said")).to_have_text("fellow Britons, ask not")
        segments.first.focus()
        page.keyboard.press("m")
        expect(segments).to_have_count(count)
        page.wait_for_load_state("load")
        expect(segments.first.locator(".said")).to_have_text("And so, my fellow Britons, ask not")
        browser.close()


@pytest.mark.slow
@pytest.mark.browser
def test_speaker_turns_in_two_colours_and_corrected_line_by_line_in_chromium(service, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from speechfixtures.dialogue import mono_dialogue

    url, logins = service
    dialogue = tmp_path / "dialogue.wav"
    mono_dialogue(dialogue)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        log_in(page, url, "trainee", logins["trainee"])
        page.click("text=DEMO-001")
        upload_on_case_page(page, 5, dialogue)
        therapist = page.locator("#segments .segment.speaker-therapist")
        patient = page.locator("#segments .segment.speaker-patient")
        expect(therapist.first).to_be_visible(timeout=120_000)
        expect(patient.first).to_be_visible()
        expect(therapist.first.locator(".speaker")).to_have_text("Therapist")
        expect(patient.first.locator(".speaker")).to_have_text("Patient")
        # Two colours: the therapist's rule is blue, the patient's brown.
        shadow = "el => getComputedStyle(el).boxShadow"
        assert "47, 93, 138" in therapist.first.evaluate(shadow)
        assert "138, 75, 47" in patient.first.evaluate(shadow)
        expect(page.locator(".speakers summary")).to_contain_text("Therapist identified with")
        page.screenshot(path=str(ARTIFACTS / "speaker-turns.png"), full_page=True)

        # Line by line: the opening line is given to the patient.
        page.click("text=Correct speakers line by line")
        first = page.locator("#segments .segment").first
        first.locator(".speaker-fix button:has-text('Patient')").click()
        first = page.locator("#segments .segment").first
        expect(first).to_have_class(re.compile(r"\bspeaker-patient\b"))
        expect(first.locator(".speaker-fix button:has-text('Patient')")).to_have_attribute("aria-pressed", "true")

        # A split: the last words of a patient's line are selected and given to the therapist.
        line = page.locator("#segments .segment.speaker-patient").nth(1)
        words = line.locator(".word")
        count = page.locator("#segments .segment").count()
        n = words.count()
        assert n >= 4
        last_words = " ".join(words.nth(i).inner_text().strip() for i in range(n - 2, n))
        line.evaluate("""(li, from) => {
            const words = li.querySelectorAll('.word');
            const range = document.createRange();
            range.setStartBefore(words[from]);
            range.setEndAfter(words[words.length - 1]);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            li.closest('#segments').dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
        }""", n - 2)
        expect(page.locator("#selection-summary")).to_contain_text("2 words selected")
        page.click("button.selection-role:has-text('Said by the therapist')")
        expect(page.locator("#segments .segment")).to_have_count(count + 1)
        split = page.locator("#segments .segment.speaker-therapist", has_text=last_words)
        expect(split).to_have_count(1)
        page.screenshot(path=str(ARTIFACTS / "speaker-corrections.png"), full_page=True)

        # The corrections are what the exports say too.
        text = page.evaluate("async () => (await fetch(location.pathname.replace('/recordings/', '/api/recordings/') "
                             "+ '/transcript?format=txt')).text()")
        assert text.splitlines()[0].split("] ")[1].startswith("P: ")
        browser.close()
