"""Passwords, one-time secrets, TOTP and recovery codes: the pure functions of server.security, with the
real zxcvbn, pyotp and segno, and (for the QR code) a real browser and a real QR decoder."""

from __future__ import annotations

import hashlib
import io
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from argon2 import PasswordHasher

from server.security import (
    hash_password,
    hash_secret,
    new_recovery_codes,
    new_secret,
    new_totp_secret,
    password_needs_rehash,
    password_problem,
    provisioning_uri,
    qr_svg,
    use_recovery_code,
    verify_password,
    verify_totp,
)
from tests.browser import launch

PASSPHRASE = "violet canal orbit lantern"


# Password policy

@pytest.mark.parametrize("password", ["password", "12345678", "violet cana"])
def test_a_password_under_twelve_characters_is_refused(password):
    assert "at least 12 characters" in password_problem(password, username="jane")


def test_a_password_over_256_characters_is_refused_and_256_are_accepted():
    words = "violet canal orbit lantern quietly folds the amber map "
    longest = (words * 10)[:256]
    assert password_problem(longest, username="jane") is None
    assert password_problem(longest + "x", username="jane") == "Use at most 256 characters."


@pytest.mark.parametrize("password", ["supervisor2024", "my SuperVisor lantern canal"])
def test_a_password_containing_the_user_name_is_refused_whatever_its_case(password):
    assert password_problem(password, username="supervisor") == "Leave your user name out of your password."


def test_a_user_name_under_three_characters_is_not_looked_for():
    assert password_problem("jolly violet canal orbit", username="jo") is None


@pytest.mark.parametrize("password, advice", [
    ("passwordpassword", 'Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
    ("qwertyuiop123", "This is a very common password."),
])
def test_a_common_or_easily_guessed_password_is_refused_with_zxcvbns_advice(password, advice):
    problem = password_problem(password, username="jane")
    assert problem.startswith(advice)
    assert "Add another word or two." in problem


def test_the_persons_name_counts_as_easily_guessed():
    assert password_problem("harrietmoss2024", username="someone") is None
    problem = password_problem("harrietmoss2024", username="hmoss", name="Harriet Moss")
    assert problem == "This password would be easy to guess. Add another word or two. Uncommon words are better."


def test_a_passphrase_is_accepted():
    assert password_problem(PASSPHRASE, username="jane", name="Jane Smith") is None


# Password hashing

def test_a_password_hash_verifies_only_its_password():
    stored = hash_password(PASSPHRASE)
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, PASSPHRASE)
    assert not verify_password(stored, PASSPHRASE.upper())
    assert not verify_password(None, PASSPHRASE)
    assert not verify_password("not a hash", PASSPHRASE)


def test_a_hash_made_with_weaker_parameters_needs_rehashing():
    assert not password_needs_rehash(hash_password(PASSPHRASE))
    weaker = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSPHRASE)
    assert verify_password(weaker, PASSPHRASE)
    assert password_needs_rehash(weaker)


# One-time secrets

def test_a_new_secret_is_url_safe_random_and_stored_as_its_sha256():
    secret, stored = new_secret()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret)
    assert stored == hashlib.sha256(secret.encode()).hexdigest() == hash_secret(secret)
    assert new_secret()[0] != secret


# TOTP

# RFC 6238, appendix B: the SHA-1 seed "12345678901234567890" in base32, and codes the RFC lists.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


@pytest.mark.parametrize("timestamp, code", [(59, "287082"), (1111111109, "081804"), (2000000000, "279037")])
def test_totp_accepts_the_rfc_6238_test_vectors(timestamp, code):
    assert verify_totp(RFC_SECRET, code, last_counter=None, at=at(timestamp)) == timestamp // 30


def test_totp_accepts_one_step_either_side_and_nothing_further():
    now, step = at(1_750_000_015), 1_750_000_015 // 30
    totp = pyotp.TOTP(RFC_SECRET)
    codes = {offset: totp.at(now + timedelta(seconds=30 * offset)) for offset in range(-2, 3)}
    assert len(set(codes.values())) == len(codes), "each step's code differs, so each assertion is telling"
    for offset in (-1, 0, 1):
        assert verify_totp(RFC_SECRET, codes[offset], last_counter=None, at=now) == step + offset
    for offset in (-2, 2):
        assert verify_totp(RFC_SECRET, codes[offset], last_counter=None, at=now) is None


def test_a_totp_code_is_refused_once_its_step_has_been_used():
    now = at(1111111109)
    used = verify_totp(RFC_SECRET, "081804", last_counter=None, at=now)
    assert verify_totp(RFC_SECRET, "081804", last_counter=used, at=now) is None
    assert verify_totp(RFC_SECRET, "081804", last_counter=used - 1, at=now) == used
    # The next step's code is still good after this one was used.
    following = pyotp.TOTP(RFC_SECRET).at(now + timedelta(seconds=30))
    assert verify_totp(RFC_SECRET, following, last_counter=used, at=now) == used + 1


def test_totp_takes_the_code_with_spaces_and_the_current_time_by_default():
    secret = new_totp_secret()
    code = pyotp.TOTP(secret).now()
    assert verify_totp(secret, f" {code[:3]} {code[3:]} ", last_counter=None) is not None


@pytest.mark.parametrize("code", ["", "08180", "0818044", "O81804", "08-1804", "٠٨١٨٠٤"])
def test_totp_refuses_anything_but_six_digits(code):
    assert verify_totp(RFC_SECRET, code, last_counter=None, at=at(1111111109)) is None


def test_a_new_totp_secret_is_160_random_bits_in_base32():
    secret = new_totp_secret()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert new_totp_secret() != secret


def test_the_provisioning_uri_names_the_issuer_the_user_and_the_secret():
    secret = new_totp_secret()
    uri = provisioning_uri(secret, "jane")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/DIT supervision:jane"
    assert parse_qs(parts.query) == {"secret": [secret], "issuer": ["DIT supervision"]}
    assert pyotp.parse_uri(uri).secret == secret
    assert "Other%20issuer" in provisioning_uri(secret, "jane", issuer="Other issuer")


def test_the_qr_code_is_a_self_contained_svg_element():
    svg = qr_svg(provisioning_uri(new_totp_secret(), "jane"))
    assert svg.startswith("<svg")
    root = ET.fromstring(svg)
    assert root.tag == "svg"
    assert [child.tag for child in root] == ["path"]
    assert not re.search(r"href|url\(|<\?xml|<!DOCTYPE", svg)


@pytest.mark.browser
def test_the_qr_code_as_chromium_draws_it_decodes_to_the_uri():
    import zxingcpp
    from PIL import Image
    from playwright.sync_api import sync_playwright

    uri = provisioning_uri(new_totp_secret(), "jane")
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.set_content(f"<!doctype html><body style='margin:0'>{qr_svg(uri)}</body>")
        png = page.locator("svg").screenshot()
        browser.close()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [(barcode.format, barcode.text) for barcode in decoded] == [(zxingcpp.BarcodeFormat.QRCode, uri)]


# Recovery codes

def test_recovery_codes_are_readable_distinct_and_stored_as_hashes():
    codes, hashes = new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[2-9a-hjkmnp-z]{6}-[2-9a-hjkmnp-z]{6}", code)
    assert hashes == [hashlib.sha256(code.replace("-", "").encode()).hexdigest() for code in codes]
    assert len(new_recovery_codes(3)[0]) == 3


def test_a_recovery_code_works_once():
    codes, hashes = new_recovery_codes()
    remaining = use_recovery_code(codes[4], hashes)
    assert remaining == hashes[:4] + hashes[5:]
    assert use_recovery_code(codes[4], remaining) is None
    assert use_recovery_code(codes[5], remaining) == hashes[:4] + hashes[6:]


@pytest.mark.parametrize("typed", [str.upper, lambda code: code.replace("-", ""),
                                   lambda code: f" {code[:6]} {code[7:]} "])
def test_a_recovery_code_is_recognised_whatever_its_case_spaces_and_dash(typed):
    codes, hashes = new_recovery_codes(2)
    assert use_recovery_code(typed(codes[1]), hashes) == hashes[:1]


def test_an_unknown_recovery_code_is_refused():
    _, hashes = new_recovery_codes()
    assert use_recovery_code("2345-6789", hashes) is None
    assert use_recovery_code("", hashes) is None
