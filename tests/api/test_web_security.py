"""The web layer's locks, tried from outside against the real app: sign-in walls, CSRF and
``Origin`` checks, hostile forms, open redirects, cookies, headers and static files.

The page and form checks walk the app's routes rather than naming pages, so every page
and form added under ``/portal`` or ``/console`` is covered without anyone listing it here.
A small test-only router (a member form recording a consent, an operator form creating a
key, a page with path parameters) is added to each app, so the walk always has forms to
try, and a valid request through them shows the refusals really are what stops a write.
"""

from __future__ import annotations

import posixpath
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import anyio
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from plaudit.entrypoints.web.errors import area_of
from plaudit.entrypoints.web.pages import HEADERS, STATIC, render
from plaudit.entrypoints.web.session import (
    AREAS,
    MAX_FORM_FIELDS,
    MemberForm,
    OperatorForm,
    OperatorPage,
    back,
    csrf_for,
    service,
)

from ..conftest import HANG, within
from ..table_scan import every_row
from .conftest import Api, make_api, purchase

try:  # FastAPI >= 0.16x keeps included routers lazily: walk their effective routes
    from fastapi.routing import iter_route_contexts as _route_contexts
except ImportError:  # pragma: no cover - older FastAPI lists every route in app.routes
    def _route_contexts(routes: Any) -> Any:  # type: ignore[misc]
        return routes

WEB = Path(STATIC).parent
COOKIE = {area: cookie for area, (_, cookie) in AREAS.items()}
OTHER = {"portal": "console", "console": "portal"}
MEMBER, OTHER_MEMBER = "m-web-1", "m-web-2"
EXEMPT = ("/signin", "/signout")
"""Reached without a session by design; tested on their own below."""
EVIL = "https://evil.example"


# -- the app, with a few test-only routes ------------------------------------------------

probe = APIRouter(include_in_schema=False)


@probe.post("/portal/_probe/consent")
async def _probe_consent(request: Request, session: MemberForm) -> Response:
    partner = session.form.get("partner", "city-rentals")
    await run_in_threadpool(service(request).record_consent, session.member, partner, True)
    return back("/portal", "Consent recorded.")


@probe.post("/console/_probe/key")
async def _probe_key(request: Request, session: OperatorForm) -> Response:
    await run_in_threadpool(lambda: service(request).access.create_key(
        session.form.get("name", "probe"), ["read"], actor=session.actor))
    return back("/console", "Key created.")


@probe.get("/console/_probe/{thing}/{n:int}")
async def _probe_page(request: Request, session: OperatorPage, thing: str, n: int
                      ) -> Response:
    return render(request, "error.html", area="console", session=session, title=thing,
                  detail=str(n), errors=[])


@dataclass
class Web:
    api: Api
    url: str
    member: str
    """A member token of MEMBER (the portal's credential)."""
    other_member: str
    """A member token of OTHER_MEMBER: another portal session."""

    @property
    def client(self) -> TestClient:
        return self.api.client

    @property
    def app(self) -> FastAPI:
        app: FastAPI = self.api.client.app  # type: ignore[assignment]
        return app

    def credential(self, area: str) -> str:
        return self.member if area == "portal" else self.api.admin

    def other_session(self, area: str) -> str:
        return self.other_member if area == "portal" else self.api.read

    def send(self, method: str, path: str, *, area: str | None = None,
             cred: str | None = None, headers: dict[str, str] | None = None,
             **kwargs: Any) -> Any:
        """One request with exactly the cookie given (none kept from earlier answers)."""
        self.client.cookies.clear()
        sent = dict(headers or {})
        if cred is not None:
            sent["cookie"] = f"{COOKIE[area or area_of(path) or 'portal']}={cred}"
        return self.client.request(method, path, headers=sent, follow_redirects=False,
                                   **kwargs)

    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in every_row(self.url).items()}


@pytest.fixture
def web(store_url: str) -> Iterator[Web]:
    """The app on SQLite, and on PostgreSQL when configured (a refusal must store nothing
    on either)."""
    api, store = make_api(store_url)
    url = store_url
    app: FastAPI = api.client.app  # type: ignore[assignment]
    app.include_router(probe)
    r = api.post_events([purchase("w1", MEMBER), purchase("w2", OTHER_MEMBER)])
    assert r.status_code in (200, 201, 202), r.text
    yield Web(api, url, api.token_for(MEMBER), api.token_for(OTHER_MEMBER))
    store.close()


# -- the walk ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    method: str
    template: str
    path: str
    """The template with a sample value for each parameter."""

    @property
    def area(self) -> str:
        area = area_of(self.template)
        assert area is not None
        return area

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def _sample(convertor: Any) -> str:
    name = type(convertor).__name__
    value: Any = {"IntegerConvertor": 1, "FloatConvertor": 1.5,
                  "UUIDConvertor": uuid.UUID(int=1)}.get(name, "probe")
    text: str = convertor.to_string(value)
    return text


def _fill(convertors: dict[str, Any], match: re.Match[str]) -> str:
    return _sample(convertors[match.group(1)])


def web_routes(app: FastAPI) -> list[Route]:
    """Every page and form of the portal and the console, but sign-in and sign-out."""
    found = []
    for route in _route_contexts(app.routes):
        template = getattr(route, "path", None)
        if not template or area_of(template) is None or template.endswith(EXEMPT):
            continue
        convertors = getattr(route, "param_convertors", {})
        path = re.sub(r"\{(\w+)(?::\w+)?\}", partial(_fill, convertors), template)
        for method in sorted((getattr(route, "methods", None) or set()) - {"HEAD"}):
            found.append(Route(method, template, path))
    return found


def pages(web: Web) -> list[Route]:
    return [r for r in web_routes(web.app) if r.method == "GET"]


def forms(web: Web) -> list[Route]:
    return [r for r in web_routes(web.app) if r.method != "GET"]


def assert_page(r: Any, status: int | None = None) -> str:
    """An HTML page with every security header of pages.py; its text."""
    if status is not None:
        assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("text/html"), r.headers
    for name, value in HEADERS.items():
        assert r.headers.get(name) == value, (name, r.headers.get(name), r.url)
    text: str = r.text
    return text


def assert_signin_redirect(r: Any, area: str, next_path: str | None = None) -> None:
    assert r.status_code == 303, (r.status_code, r.text[:300])
    location = r.headers["location"]
    assert location.startswith(f"/{area}/signin?next="), location
    if next_path is not None:
        assert location == f"/{area}/signin?next={quote(next_path)}"
    assert not any(c.startswith(f"{COOKIE[area]}=") and "Max-Age=0" not in c
                   for c in r.headers.get_list("set-cookie"))


def test_the_walk_finds_the_pages_and_forms_of_both_areas(web: Web) -> None:
    found = {str(r) for r in web_routes(web.app)}
    assert {"GET /portal", "GET /console", "GET /console/_probe/{thing}/{n:int}",
            "POST /portal/_probe/consent", "POST /console/_probe/key"} <= found
    assert not any(r.endswith(EXEMPT) for r in found)
    assert all(r.method in ("GET", "POST") for r in web_routes(web.app)), found


# -- pages -------------------------------------------------------------------------------

def test_every_page_without_a_cookie_redirects_to_its_sign_in_and_back(web: Web) -> None:
    for route in pages(web):
        r = web.send("GET", route.path)
        assert_signin_redirect(r, route.area, route.path)
        signin = assert_page(web.send("GET", r.headers["location"]), 200)
        assert f'name="next" value="{route.path}"' in signin, route


def test_every_page_refuses_a_credential_that_is_not_its_own(web: Web) -> None:
    for route in pages(web):
        wrong = [web.credential(OTHER[route.area]), web.api.rentals, web.api.hotels,
                 "plk_0000000000000000_" + "x" * 43, "not a credential", ""]
        for cred in wrong:
            assert_signin_redirect(web.send("GET", route.path, cred=cred), route.area,
                                   route.path)
        # the other area's cookie, with its own valid credential, opens nothing here
        other = web.send("GET", route.path, headers={
            "cookie": f"{COOKIE[OTHER[route.area]]}={web.credential(OTHER[route.area])}"})
        assert_signin_redirect(other, route.area, route.path)


def test_every_page_opens_with_its_credential_as_a_page_with_the_headers(web: Web) -> None:
    for route in pages(web):
        r = web.send("GET", route.path, cred=web.credential(route.area))
        assert r.status_code < 500, (route, r.text[:500])
        if r.status_code in (301, 302, 303, 307, 308):  # e.g. a page that moved: not out
            assert not r.headers["location"].startswith(f"/{route.area}/signin"), route
            continue
        if r.headers.get("content-disposition", "").startswith("attachment"):
            # a download (the member's export): not a page, but never cached or sniffed
            assert r.headers["cache-control"] == "no-store", route
            assert r.headers["x-content-type-options"] == "nosniff", route
            continue
        assert_page(r)
    assert "Hello, m-web-1" in assert_page(web.send("GET", "/portal", cred=web.member), 200)


# -- forms -------------------------------------------------------------------------------

def test_every_form_without_its_session_redirects_to_sign_in_and_stores_nothing(
        web: Web) -> None:
    before = web.counts()
    for route in forms(web):
        other = OTHER[route.area]
        for cred, csrf in [(None, "0" * 32),
                           (web.credential(other), csrf_for(web.credential(other))),
                           (web.api.rentals, csrf_for(web.api.rentals))]:
            r = web.send(route.method, route.path, cred=cred, area=route.area,
                         data={"csrf": csrf, "partner": "city-rentals"})
            # a form's address is no page to come back to: its area's home is
            assert_signin_redirect(r, route.area, f"/{route.area}")
    assert web.counts() == before


def test_every_form_refuses_a_forged_request_as_a_page_and_stores_nothing(
        web: Web) -> None:
    before = web.counts()
    for route in forms(web):
        cred = web.credential(route.area)
        csrf = csrf_for(cred)
        forged: list[tuple[str, dict[str, str], dict[str, str]]] = [
            ("no csrf field", {"partner": "city-rentals"}, {}),
            ("an empty csrf", {"csrf": ""}, {}),
            ("a wrong csrf", {"csrf": "0" * 32}, {}),
            ("the csrf of another session", {"csrf": csrf_for(web.other_session(
                route.area))}, {}),
            ("the csrf of the other area", {"csrf": csrf_for(web.credential(
                OTHER[route.area]))}, {}),
            ("another site's Origin", {"csrf": csrf}, {"origin": EVIL}),
            ("an Origin of null", {"csrf": csrf}, {"origin": "null"}),
            ("this host on another port", {"csrf": csrf},
             {"origin": "http://testserver:443"}),
        ]
        for why, data, headers in forged:
            r = web.send(route.method, route.path, cred=cred, data=data, headers=headers)
            text = assert_page(r, 403)
            assert "Form refused" in text, (route, why)
            assert web.counts() == before, f"{route} stored something with {why}"


def _hostile_bodies(csrf: str) -> list[tuple[str, dict[str, Any]]]:
    form = "application/x-www-form-urlencoded"
    many = "&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS)) + f"&csrf={csrf}"
    return [
        ("a repeated field", {"content": f"csrf={csrf}&csrf={csrf}".encode(),
                              "headers": {"content-type": form}}),
        ("too many fields", {"content": many.encode(), "headers": {"content-type": form}}),
        ("ten thousand fields", {"content": ("x=1&" * 10_000 + f"csrf={csrf}").encode(),
                                 "headers": {"content-type": form}}),
        ("a file", {"data": {"csrf": csrf}, "files": {"f": ("a.txt", b"hello")}}),
        ("multipart without a file", {"data": {"csrf": csrf}, "files": {}}),
        ("a non-UTF-8 body", {"content": f"csrf={csrf}&note=caf\xe9".encode("latin-1"),
                              "headers": {"content-type": form}}),
        ("a non-UTF-8 escape", {"content": f"csrf={csrf}&note=%ff%fe".encode(),
                                "headers": {"content-type": form}}),
        ("JSON", {"json": {"csrf": csrf}}),
        ("no body", {}),
    ]


def test_every_form_refuses_a_hostile_body_as_a_page_and_stores_nothing(web: Web) -> None:
    before = web.counts()
    for route in forms(web):
        cred = web.credential(route.area)
        for why, body in _hostile_bodies(csrf_for(cred)):
            if why == "multipart without a file":  # httpx sends multipart only with files
                body = {"content": f'--b\r\nContent-Disposition: form-data; name="csrf"\r\n'
                                   f'\r\n{csrf_for(cred)}\r\n--b--\r\n'.encode(),
                        "headers": {"content-type": "multipart/form-data; boundary=b"}}
            headers = body.pop("headers", {})
            r = within(HANG, partial(web.send, route.method, route.path, cred=cred,
                                     headers=headers, **body))
            assert 400 <= r.status_code < 500, (route, why, r.status_code, r.text[:300])
            assert_page(r)
            assert web.counts() == before, f"{route} stored something with {why}"


def test_the_probe_forms_do_store_with_their_csrf_so_the_refusals_are_real(
        web: Web) -> None:
    before = web.counts()
    r = web.send("POST", "/portal/_probe/consent", cred=web.member,
                 data={"csrf": csrf_for(web.member), "partner": "city-rentals"},
                 headers={"origin": "http://testserver"})
    assert (r.status_code, r.headers["location"]) == (303, "/portal")
    assert web.counts() != before
    assert any(c.partner == "city-rentals" and c.granted for c in
               web.api.svc.member_state(MEMBER).consents), "the consent was not stored"
    before = web.counts()
    r = web.send("POST", "/console/_probe/key", cred=web.api.admin,
                 data={"csrf": csrf_for(web.api.admin), "name": "probe key"})
    assert (r.status_code, r.headers["location"]) == (303, "/console")
    assert "probe key" in {k.name for k in web.api.svc.access.list_keys()}
    assert web.counts() != before


# -- headers and references --------------------------------------------------------------

def test_error_pages_of_the_areas_are_pages_and_the_api_keeps_problem_json(
        web: Web) -> None:
    for cred in (None, web.member):
        r = web.send("GET", "/portal/no-such-page", cred=cred)
        assert "<h1>Not found</h1>" in assert_page(r, 404)
    assert_page(web.send("GET", "/console/no-such-page", cred=web.api.admin), 404)
    assert_page(web.send("POST", "/portal", cred=web.member), 405)
    assert_page(web.send("DELETE", "/console", cred=web.api.admin), 405)
    for method, path in (("GET", "/v1/no-such-thing"), ("DELETE", "/v1/events")):
        r = web.send(method, path)
        assert r.status_code in (404, 405)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == r.status_code


def test_the_docs_page_loads_only_this_sites_files(web: Web) -> None:
    r = web.send("GET", "/docs")
    assert r.status_code == 200
    for name, value in HEADERS.items():
        if name != "Content-Security-Policy":
            assert r.headers[name] == value
    csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self' 'unsafe-inline'"
    assert {k: v for k, v in csp.items() if k != "style-src"} == {
        k: v for k, v in (d.strip().split(" ", 1) for d in HEADERS[
            "Content-Security-Policy"].split(";")) if k != "style-src"}
    refs = re.findall(r'(?:src|href|data-openapi)="([^"]*)"', r.text)
    assert refs and all(ref.startswith("/static/") or ref == "/openapi.json"
                        for ref in refs), refs
    assert "<script>" not in r.text and "style=" not in r.text
    assert web.send("GET", "/openapi.json").status_code == 200


EXTERNAL = re.compile(r"https?://|(?:src|href|action|url)\s*[=(]\s*[\"']?\s*//"
                      r"|[\"'(]//[a-z0-9-]+\.[a-z0-9.-]+", re.IGNORECASE)
NAMESPACE = re.compile(r'xmlns(?::\w+)?="http://www\.w3\.org/[^"]*"')


def test_no_template_or_own_static_file_refers_to_another_site() -> None:
    files = [p for p in sorted(WEB.glob("templates/**/*")) + sorted(STATIC.glob("**/*"))
             if p.is_file() and "vendor" not in p.relative_to(WEB).parts]
    assert any(p.name == "base.html" for p in files) and any(p.name == "app.js" for p in files)
    found = []
    for path in files:
        text = NAMESPACE.sub("", path.read_text(encoding="utf-8"))  # an XML name, no fetch
        found += [f"{path.relative_to(WEB)}: {m.group(0)}" for m in EXTERNAL.finditer(text)]
    assert not found, found
    assert EXTERNAL.search('<img src="//cdn.example/x.png">')
    assert EXTERNAL.search("background: url(//fonts.example/f.woff)")
    assert not EXTERNAL.search("// a comment in app.js, and a path: /static/app.css")


def test_no_static_file_is_a_page_served_without_the_headers() -> None:
    """/static answers without the pages' CSP: a page there would be a page without it."""
    pages_ = [p.name for p in STATIC.glob("**/*") if p.suffix.lower() in (".html", ".htm",
                                                                           ".xhtml")]
    assert not pages_, pages_


# -- sign-in -----------------------------------------------------------------------------

def _signin_bodies(token: str) -> list[tuple[str, dict[str, Any]]]:
    form = "application/x-www-form-urlencoded"
    many = "&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS)) + f"&token={token}"
    return [
        ("a token over the limit", {"data": {"token": token + "x" * 200}}),
        ("a huge token", {"data": {"token": "x" * 1_000_000}}),
        ("a repeated token", {"content": f"token={token}&token={token}".encode(),
                              "headers": {"content-type": form}}),
        ("a repeated next", {"content": f"token={token}&next=/x&next=/y".encode(),
                             "headers": {"content-type": form}}),
        ("too many fields", {"content": many.encode(), "headers": {"content-type": form}}),
        ("a hundred thousand fields", {"content": ("x=1&" * 100_000 + f"token={token}"
                                                   ).encode(),
                                       "headers": {"content-type": form}}),
        ("a multipart body with a file", {"data": {"token": token},
                                          "files": {"f": ("a.txt", b"hello")}}),
        ("malformed urlencoded", {"content": b"token=%zz%&&==&%%%",
                                  "headers": {"content-type": form}}),
        ("a non-UTF-8 body", {"content": f"token={token}&next=/caf\xe9".encode("latin-1"),
                              "headers": {"content-type": form}}),
        ("a non-UTF-8 escape", {"content": f"token={token}&next=%ff".encode(),
                                "headers": {"content-type": form}}),
        ("JSON", {"json": {"token": token}}),
        ("no body", {}),
    ]


@pytest.mark.parametrize("area", ["portal", "console"])
def test_sign_in_refuses_a_hostile_form_fast_as_a_page_without_a_cookie(
        web: Web, area: str) -> None:
    token = web.credential(area)
    for why, body in _signin_bodies(token):
        headers = body.pop("headers", {})
        r = within(HANG, partial(web.send, "POST", f"/{area}/signin", headers=headers,
                                 **body))
        assert 400 <= r.status_code < 500, (why, r.status_code, r.text[:300])
        assert_page(r)
        assert not r.headers.get_list("set-cookie"), (why, r.headers.get_list("set-cookie"))
    good = web.send("POST", f"/{area}/signin", data={"token": f"  {token} "})
    assert good.status_code == 303 and COOKIE[area] in good.headers["set-cookie"]


@pytest.mark.parametrize("area", ["portal", "console"])
def test_sign_in_refuses_a_wrong_credential_and_another_sites_form(
        web: Web, area: str) -> None:
    for cred in (web.credential(OTHER[area]), web.api.rentals, "x" * 200):
        r = web.send("POST", f"/{area}/signin", data={"token": cred})
        assert "is not valid" in assert_page(r, 401)
        assert not r.headers.get_list("set-cookie")
    r = web.send("POST", f"/{area}/signin", data={"token": web.credential(area)},
                 headers={"origin": EVIL})
    assert_page(r, 403)
    assert not r.headers.get_list("set-cookie")
    r = web.send("GET", f"/{area}/signin", params={"token": web.credential(OTHER[area])})
    assert_page(r, 401)
    assert not r.headers.get_list("set-cookie")


def _lands_inside(area: str, location: str) -> bool:
    """Where a browser goes: resolved against the site, dot segments removed."""
    target = urlsplit(urljoin("http://testserver/x/y", location.replace("\\", "/")))
    path = posixpath.normpath(target.path)
    return target.netloc == "testserver" and (path == f"/{area}"
                                              or path.startswith(f"/{area}/"))


def _hostile_nexts(area: str) -> list[str]:
    other = OTHER[area]
    return ["//evil.example", "https://evil", "http://testserver.evil.example/",
            f"/{area}/../{other}", f"/{area}/%2e%2e/{other}", f"/{area}/%2E%2E/{other}",
            f"/{area}/..%2f{other}", f"/{area}/.%2e/{other}", f"/{area}/./../{other}",
            "/\\evil.example", f"/{area}/\\..\\{other}", "/%5cevil.example",
            f"/{area}x", f"/{area}.evil.example", f"/{area}@evil.example",
            f"/{area}/\t/evil.example", f"/{area}\n//evil.example", f"/{area}#//evil",
            "javascript:alert(1)", f"{EVIL}/{area}", "", " ", "%2f%2fevil.example",
            f"/{area}//evil.example"]


@pytest.mark.parametrize("area", ["portal", "console"])
def test_sign_in_next_always_lands_inside_its_area(web: Web, area: str) -> None:
    token = web.credential(area)
    for next_ in _hostile_nexts(area):
        for r in (web.send("POST", f"/{area}/signin", data={"token": token, "next": next_}),
                  web.send("GET", f"/{area}/signin", params={"token": token, "next": next_})):
            assert r.status_code == 303, (next_, r.status_code)
            assert r.headers["location"] == f"/{area}", (next_, r.headers["location"])
        page = assert_page(web.send("GET", f"/{area}/signin", params={"next": next_}), 200)
        assert f'name="next" value="/{area}"' in page, next_
    for kept in (f"/{area}", f"/{area}/some/page", f"/{area}/x?tab=2&sort=-at"):
        r = web.send("POST", f"/{area}/signin", data={"token": token, "next": kept})
        assert r.headers["location"] == kept
        assert _lands_inside(area, kept)
    assert not _lands_inside(area, f"/{area}/../{OTHER[area]}")  # the helper itself


def test_a_page_sends_its_query_along_through_sign_in(web: Web) -> None:
    r = web.send("GET", "/console/_probe/x/1?tab=2&q=a%20b")
    assert_signin_redirect(r, "console", "/console/_probe/x/1?tab=2&q=a%20b")
    back_ = web.send("POST", "/console/signin", data={
        "token": web.api.admin, "next": "/console/_probe/x/1?tab=2&q=a%20b"})
    assert back_.headers["location"] == "/console/_probe/x/1?tab=2&q=a%20b"


# -- a credential that dies signs the browser out ----------------------------------------

def _signed_in(web: Web, area: str, token: str) -> None:
    web.client.cookies.clear()
    r = web.client.post(f"/{area}/signin", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert web.client.get(f"/{area}", follow_redirects=False).status_code == 200


def _signed_out(web: Web, area: str) -> None:
    r = web.client.get(f"/{area}", follow_redirects=False)
    assert_signin_redirect(r, area, f"/{area}")
    assert any(c.startswith(f"{COOKIE[area]}=") and "Max-Age=0" in c
               for c in r.headers.get_list("set-cookie")), "the dead cookie stays"
    assert COOKIE[area] not in web.client.cookies
    r = web.client.post(f"/{area}/_probe/{'consent' if area == 'portal' else 'key'}",
                        data={"csrf": "x"}, follow_redirects=False)
    assert r.status_code == 303


def key_id(token: str) -> str:
    return token.split("_")[1]


def test_a_revoked_operator_key_signs_the_console_out_at_once(web: Web) -> None:
    key = web.api.svc.access.create_key("soon revoked", ["admin"], actor="test").token
    _signed_in(web, "console", key)
    web.api.svc.access.revoke(key_id(key), actor="test")
    _signed_out(web, "console")


def test_a_revoked_member_token_or_issuer_signs_the_portal_out_at_once(web: Web) -> None:
    _signed_in(web, "portal", web.member)
    web.api.svc.access.revoke(key_id(web.member), actor="test")
    _signed_out(web, "portal")
    token = web.api.token_for(MEMBER)  # issued by the backend key: revoke that one
    _signed_in(web, "portal", token)
    web.api.svc.access.revoke(key_id(web.api.backend), actor="test")
    _signed_out(web, "portal")


def test_an_expired_member_token_signs_the_portal_out(web: Web) -> None:
    token = web.api.token_for(MEMBER, seconds=60)
    _signed_in(web, "portal", token)
    web.api.clock.now += 59 * 1_000_000
    assert web.client.get("/portal", follow_redirects=False).status_code == 200
    web.api.clock.now += 2 * 1_000_000
    _signed_out(web, "portal")


# -- cookies -----------------------------------------------------------------------------

def _attributes(set_cookie: str) -> dict[str, str]:
    parts = [p.strip() for p in set_cookie.split(";")]
    return {k.lower(): v for k, _, v in (p.partition("=") for p in parts[1:])}


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_cookies_are_http_only_lax_path_scoped_and_secure_over_https(
        web: Web, scheme: str) -> None:
    client = TestClient(web.app, base_url=f"{scheme}://testserver",
                        raise_server_exceptions=False)
    for area in AREAS:
        r = client.post(f"/{area}/signin", data={"token": web.credential(area)},
                        follow_redirects=False)
        assert r.status_code == 303
        credential = [c for c in r.headers.get_list("set-cookie")
                      if c.startswith(f"{COOKIE[area]}=")]
        assert len(credential) == 1
        attributes = _attributes(credential[0])
        # Lax: a sign-in link from an email must land signed in (tests/browser)
        assert "httponly" in attributes and attributes["samesite"].lower() == "lax"
        assert attributes["path"] == f"/{area}"
        assert ("secure" in attributes) == (scheme == "https")
        assert "max-age" not in attributes and "expires" not in attributes  # the tab's life
        assert "domain" not in attributes
    # the member's cookie never travels to the console (and the reverse)
    assert client.get("/portal", follow_redirects=False).status_code == 200
    assert client.get("/console", follow_redirects=False).status_code == 200
    portal_only = TestClient(web.app, base_url=f"{scheme}://testserver")
    portal_only.post("/portal/signin", data={"token": web.member}, follow_redirects=False)
    assert_signin_redirect(portal_only.get("/console", follow_redirects=False), "console")
    # a form of this site passes the Origin check (its own scheme), and the flash cookie
    # it leaves is as locked as the credential's
    r = client.post("/portal/_probe/consent", data={"csrf": csrf_for(web.member)},
                    headers={"origin": f"{scheme}://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    for cookie in r.headers.get_list("set-cookie"):
        attributes = _attributes(cookie)
        assert "httponly" in attributes and attributes["samesite"].lower() == "strict"


def test_sign_out_drops_the_cookie_but_not_when_another_site_asks(web: Web) -> None:
    _signed_in(web, "portal", web.member)
    r = web.client.post("/portal/signout", headers={"origin": EVIL}, follow_redirects=False)
    assert_page(r, 403)
    for forged in ({}, {"csrf": "0" * 32}, {"csrf": csrf_for(web.other_member)}):
        r = web.client.post("/portal/signout", data=forged, follow_redirects=False)
        assert_page(r)  # a live session signs out only from its own page
        assert r.status_code == (403 if forged else 415)  # no form at all: not a form
    assert web.client.get("/portal", follow_redirects=False).status_code == 200
    r = web.client.post("/portal/signout", data={"csrf": csrf_for(web.member)},
                        follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/portal/signin")
    assert_signin_redirect(web.client.get("/portal", follow_redirects=False), "portal")


# -- /static -----------------------------------------------------------------------------

def _raw_get(app: FastAPI, path: bytes) -> tuple[int, bytes]:
    """A GET with the path exactly as given, as a client that does not normalise it (curl
    --path-as-is) sends it: httpx would remove the dot segments first."""
    status: list[int] = []
    body: list[bytes] = []

    sent_body: list[bool] = []

    async def receive() -> dict[str, Any]:
        if sent_body:
            return {"type": "http.disconnect"}
        sent_body.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    from urllib.parse import unquote_to_bytes
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "root_path": "", "query_string": b"",
             "path": unquote_to_bytes(path).decode("utf-8", "replace"), "raw_path": path,
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1),
             "server": ("testserver", 80)}
    anyio.run(app, scope, receive, send)  # type: ignore[arg-type]
    return status[0], b"".join(body)


TRAVERSALS = [b"/static/../pages.py", b"/static/../../web/pages.py", b"/static/%2e%2e/pages.py",
              b"/static/%2E%2E/session.py", b"/static/..%2fpages.py", b"/static/%2e%2e%2fpages.py",
              b"/static/..%5cpages.py", b"/static/..\\pages.py", b"/static/vendor/../../pages.py",
              b"/static/vendor/%2e%2e/%2e%2e/__init__.py", b"/static/%2e%2e/templates/base.html",
              b"/static//etc/passwd", b"/static/%2fetc%2fpasswd", b"/static/....//pages.py",
              b"/static/%252e%252e/pages.py", b"/static/..%00/pages.py", b"/static/.%2e/pages.py"]


def test_static_files_do_not_leak_the_files_beside_them(web: Web) -> None:
    assert web.send("GET", "/static/app.js").status_code == 200
    for path in TRAVERSALS:
        status, body = _raw_get(web.app, path)
        assert status == 404, (path, status, body[:200])
        assert b"import" not in body and b"{% " not in body and b"root:" not in body
    assert _raw_get(web.app, b"/static/app.css")[0] == 200  # the helper itself works


def test_a_sign_in_link_asks_before_replacing_someone_elses_session(web: Web) -> None:
    """Anyone can send anyone a link: it must not silently swap who is signed in."""
    _signed_in(web, "portal", web.member)
    r = web.client.get(f"/portal/signin?token={web.other_member}", follow_redirects=False)
    text = assert_page(r, 200)
    assert "Switch who is signed in?" in text and "m-web-1" in text
    assert not [c for c in r.headers.get_list("set-cookie") if c.startswith(COOKIE["portal"])]
    assert "Hello, m-web-1" in web.client.get("/portal").text          # still the first
    r = web.client.post("/portal/signin", data={"token": web.other_member},
                        follow_redirects=False)
    assert r.status_code == 303
    assert "Hello, m-web-1" not in web.client.get("/portal").text      # switched on purpose
    # another link for the member signed in just signs in again, without asking
    fresh = web.api.token_for(OTHER_MEMBER)
    r = web.client.get(f"/portal/signin?token={fresh}", follow_redirects=False)
    assert r.status_code == 303
