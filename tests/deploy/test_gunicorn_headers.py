"""The production profile's security headers and cookie flags on real answers from
gunicorn (config/gunicorn.py), as a reverse proxy that terminates TLS would get them.

gunicorn trusts X-Forwarded-Proto itself from KIROKU_FORWARDED_ALLOW_IPS; here that is
an address the test never connects from, so the header is honoured only through
Django's SECURE_PROXY_SSL_HEADER (KIROKU_SECURE_PROXY_SSL_HEADER), the setting under
test.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import httpx
import pytest
from django.contrib.auth.hashers import make_password

from tests.factories import UserFactory
from tests.integration.gunicorn import Gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

STRONG_KEY = "kP3v9Qx2Lm8Zr5Tn1Wy7Hc4Jb6Fd0Sg2Ae9Uo3Ik5Pl7Mn1Bv8Cx4Zq6Wr2Ty0Gh"
PASSWORD = "correct horse battery staple"
PROXIED = {"X-Forwarded-Proto": "https"}
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "connect-src": "'self'",
    "font-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


@pytest.fixture
def server(tmp_path):
    """gunicorn, one worker, under KIROKU_ENV=production on the test database."""
    gunicorn = Gunicorn(
        tmp_path,
        workers=1,
        env={
            "KIROKU_ENV": "production",
            "KIROKU_SECRET_KEY": STRONG_KEY,
            "KIROKU_ALLOWED_HOSTS": "127.0.0.1",
            "KIROKU_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
            "KIROKU_FORWARDED_ALLOW_IPS": "192.0.2.1",  # TEST-NET: never this test
        },
    )
    try:
        yield gunicorn.start()
    finally:
        gunicorn.stop()


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10, follow_redirects=False) as client:
        yield client


def cookie(response: httpx.Response, name: str) -> dict[str, str | bool]:
    """The flags a response sets on cookie ``name``: Secure, HttpOnly, SameSite."""
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    morsel = SimpleCookie(header)[name]
    return {
        "secure": bool(morsel["secure"]),
        "httponly": bool(morsel["httponly"]),
        "samesite": morsel["samesite"],
    }


def test_plain_http_is_redirected_to_https_but_probes_are_not(client, server):
    response = client.get("/login?next=/projects")
    assert (response.status_code, response.headers["location"]) == (
        301,
        f"https://{urlsplit(server.url).netloc}/login?next=/projects",
    )
    assert client.get("/healthz").status_code == 200


def test_a_page_over_https_carries_the_security_headers(client):
    response = client.get("/login", headers=PROXIED)
    assert response.status_code == 200
    headers = {
        name: response.headers.get(name)
        for name in (
            "strict-transport-security",
            "x-content-type-options",
            "referrer-policy",
            "x-frame-options",
            "cross-origin-opener-policy",
        )
    }
    assert headers == {
        "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
    }
    # django-csp writes the directives in no fixed order.
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert policy == POLICY


def test_the_csrf_and_session_cookies_are_secure_and_same_site(client, server):
    user = UserFactory(username="bob_member")
    # The suite hashes with MD5 (tests/conftest.py); gunicorn checks with the defaults.
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    form = client.get("/login", headers=PROXIED)
    assert cookie(form, "csrftoken") == {"secure": True, "httponly": False, "samesite": "Lax"}

    # httpx keeps Secure cookies for https:// URLs, so they are sent by hand here.
    token = SimpleCookie(form.headers["set-cookie"])["csrftoken"].value
    signed_in = client.post(
        "/login",
        data={"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={
            **PROXIED,
            "Cookie": f"csrftoken={token}",
            # A browser's Origin: CSRF checks it against https://<host> on HTTPS.
            "Origin": f"https://{urlsplit(server.url).netloc}",
        },
    )
    assert (signed_in.status_code, signed_in.headers["location"]) == (302, "/projects")
    assert cookie(signed_in, "sessionid") == {"secure": True, "httponly": True, "samesite": "Lax"}
