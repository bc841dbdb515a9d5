"""Security headers on every kind of response, HSTS only over HTTPS, and forwarded headers believed only
from the proxies named in DIT_TRUSTED_PROXIES."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from server.config import Settings
from server.web.headers import SecurityHeaders
from tests.test_access import login_by_cookie

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'")
HSTS = "max-age=31536000; includeSubDomains"


def assert_security_headers(response: httpx.Response, *, cacheable: bool = False) -> None:
    headers = response.headers
    assert headers["content-security-policy"] == CSP
    denied = {rule.strip() for rule in headers["permissions-policy"].split(",")}
    assert {"camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"} <= denied
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    if cacheable:
        assert "no-store" not in headers.get("cache-control", "")
    else:
        assert headers["cache-control"] == "private, no-store"
    assert "strict-transport-security" not in headers


async def test_pages_api_static_files_and_errors_carry_the_headers(people, app):
    page = await people["anonymous"].get("/login")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert_security_headers(page)

    api = await people["trainee"].get("/api/me")
    assert api.status_code == 200 and api.json()["username"] == "trainee"
    assert_security_headers(api)

    static = await people["anonymous"].get("/static/app.css")
    assert static.status_code == 200 and static.headers["content-type"].startswith("text/css")
    assert_security_headers(static, cacheable=True)

    api_refusal = await people["trainee"].get("/api/agreement")
    assert api_refusal.status_code == 403 and api_refusal.json()["error"]
    assert_security_headers(api_refusal)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as browser:
        await login_by_cookie(browser, "trainee")
        error_page = await browser.get("/audit")
        assert error_page.status_code == 403 and "course leads" in error_page.text
        assert_security_headers(error_page)

        missing_page = await browser.get("/no-such-page")
        assert missing_page.status_code == 404 and missing_page.headers["content-type"].startswith("text/html")
        assert_security_headers(missing_page)

    missing_api = await people["trainee"].get("/api/no-such-thing")
    assert missing_api.status_code == 404 and missing_api.json()["error"]
    assert_security_headers(missing_api)

    missing_static = await people["anonymous"].get("/static/no-such-file.js")
    assert missing_static.status_code == 404
    assert_security_headers(missing_static, cacheable=True)


async def test_an_unhandled_error_is_answered_with_the_headers():
    """Starlette answers an unhandled error from outside every middleware; the headers must be on it all the same."""

    async def broken(request):
        raise RuntimeError("a bug")

    app = Starlette(routes=[Route("/broken", broken)], middleware=[Middleware(SecurityHeaders)])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/broken")
    assert response.status_code == 500 and response.text == "Internal Server Error"
    assert_security_headers(response)


async def test_hsts_only_when_the_request_came_over_https(app, people):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as client:
        for path in ("/login", "/static/app.css", "/api/me"):
            response = await client.get(path)
            assert response.headers["strict-transport-security"] == HSTS, path
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        for path in ("/login", "/static/app.css", "/api/me"):
            response = await client.get(path)
            assert "strict-transport-security" not in response.headers, path


def test_trusted_proxies_are_addresses_or_networks():
    env = {"DIT_DATA_DIR": "/tmp/dit-settings"}
    assert Settings.from_env(env).trusted_proxies == ()
    proxies = Settings.from_env({**env, "DIT_TRUSTED_PROXIES": " 10.0.0.5, 192.168.0.0/24,::1 "}).trusted_proxies
    assert proxies == ("10.0.0.5", "192.168.0.0/24", "::1")
    with pytest.raises(SystemExit, match="DIT_TRUSTED_PROXIES"):
        Settings.from_env({**env, "DIT_TRUSTED_PROXIES": "proxy.example.org"})


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


@pytest.fixture
def no_trusted_proxies(monkeypatch):
    monkeypatch.delenv("DIT_TRUSTED_PROXIES", raising=False)


@pytest.fixture
def local_proxy_trusted(monkeypatch):
    monkeypatch.setenv("DIT_TRUSTED_PROXIES", "127.0.0.1")


@pytest.mark.slow
def test_a_client_cannot_claim_https_when_no_proxy_is_trusted(no_trusted_proxies, service):
    url, _ = service
    response = httpx.get(f"{url}/login", headers=FORWARDED)
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers
    assert_security_headers(response)
    assert "server" not in response.headers


@pytest.mark.slow
def test_a_trusted_proxy_says_the_request_came_over_https(local_proxy_trusted, service):
    url, _ = service
    assert "strict-transport-security" not in httpx.get(f"{url}/login").headers
    response = httpx.get(f"{url}/login", headers=FORWARDED)
    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == HSTS
