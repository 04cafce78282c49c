"""The browser's pages (release/web.py) through the service's own app, without a browser:
sessions, what each role reaches, the audit log, the language, the headers. The same
pages in Chromium are in test_table_builder.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from release import audit, i18n, identities
from release.service import create_app
from release.web import LANGUAGE_COOKIE, _safe_back
from tests.hub_home import HubHome, make_hub_home


@pytest.fixture(scope="module")
def hub(demo_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> HubHome:
    return make_hub_home(demo_warehouse, tmp_path_factory.mktemp("pages-hub"))


@pytest.fixture
def client(hub: HubHome) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings), base_url="https://127.0.0.1", follow_redirects=False) as opened:
        yield opened


def _sign_in(client: TestClient, hub: HubHome, name: str) -> None:
    response = client.post("/ui/sign-in", data={"token": hub.tokens[name], "back": ""})
    assert response.status_code == 303


def test_without_a_session_every_page_asks_to_sign_in(client: TestClient) -> None:
    for path in ("/ui/", "/ui/tables", "/ui/data-protection", "/ui/audit", "/ui/quarantine"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/ui/sign-in?back=")
    assert client.get("/ui/tables.csv?measure=victims&rows=year").status_code == 303


def test_the_session_cookie_holds_no_token_and_cannot_be_read_by_scripts(client: TestClient, hub: HubHome) -> None:
    response = client.post("/ui/sign-in", data={"token": hub.tokens["ana"]})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert hub.tokens["ana"] not in cookie
    assert response.headers["location"] == "/ui/"
    assert client.get("/ui/").headers["location"] == "/ui/tables"


def test_a_wrong_token_is_refused_and_audited_without_the_token(client: TestClient, hub: HubHome) -> None:
    response = client.post("/ui/sign-in", data={"token": "thb_not-a-token"})
    assert response.status_code == 401 and "not valid" in response.text
    last = audit.entries(hub.settings.audit_dir)[-1]
    assert last["operation"] == "sign-in" and last["outcome"] == "unauthenticated" and last["via"] == "browser"
    assert "thb_not-a-token" not in (hub.settings.audit_dir / audit.LOG).read_text()


def test_every_page_request_is_in_the_audit_log_as_from_the_browser(client: TestClient, hub: HubHome) -> None:
    _sign_in(client, hub, "ana")
    before = len(audit.entries(hub.settings.audit_dir))
    assert client.get("/ui/tables?measure=victims&rows=year&columns=sex").status_code == 200
    assert client.get("/ui/data-protection").status_code == 403
    entries = audit.entries(hub.settings.audit_dir)[before:]
    assert [(e["operation"], e["outcome"], e["via"]) for e in entries] == [
        ("query/counts", "answered", "browser"),
        ("query/trends", "answered", "browser"),  # the flagged trends of the selection, by sex
        ("report/data-protection", "refused", "browser"),
    ]


def test_a_revoked_token_ends_its_sessions(client: TestClient, hub: HubHome) -> None:
    token = identities.add(hub.settings.hub_secrets_dir, "leaving", identities.Role.analyst, None, days=1)
    client.post("/ui/sign-in", data={"token": token})
    assert client.get("/ui/tables").status_code == 200
    identities.revoke(hub.settings.hub_secrets_dir, "leaving")
    assert client.get("/ui/tables").status_code == 303


def test_signing_out_closes_the_session(client: TestClient, hub: HubHome) -> None:
    _sign_in(client, hub, "ana")
    assert client.post("/ui/sign-out").status_code == 303
    assert client.get("/ui/tables").status_code == 303


def test_pages_allow_nothing_from_elsewhere(client: TestClient, hub: HubHome) -> None:
    _sign_in(client, hub, "ana")
    response = client.get("/ui/tables?measure=victims&rows=year&columns=country")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "http" not in response.text.replace("https://127.0.0.1", "")
    assert client.get("/ui/static/plotly.min.js").status_code == 200
    for name in ("service.py", "..%2Fservice.py", "%2E%2E%2Fweb.py"):  # only the listed files, by name
        assert client.get(f"/ui/static/{name}").status_code == 404


def test_each_role_reaches_its_pages_only(client: TestClient, hub: HubHome) -> None:
    _sign_in(client, hub, "dpo")
    assert client.get("/ui/").headers["location"] == "/ui/data-protection"
    page = client.get("/ui/data-protection")
    assert page.status_code == 200 and "Disclosure risk" in page.text and "@media print" not in page.text
    assert client.get("/ui/audit").status_code == 200
    assert client.get("/ui/quarantine?country=MK").status_code == 200
    client.cookies.clear()
    _sign_in(client, hub, "rs-officer")
    assert client.get("/ui/").headers["location"] == "/ui/quarantine"
    assert "thbdb quarantine --country RS --records" in client.get("/ui/quarantine").text
    asked_other = client.get("/ui/quarantine?country=MK").text  # its own country, whatever is asked
    assert "<h1>Quarantine: Serbia</h1>" in asked_other and "North Macedonia" not in asked_other
    assert client.get("/ui/audit").status_code == 403
    exact = client.get("/ui/tables?measure=victims&rows=year&columns=sex&exact=1")
    assert exact.status_code == 200 and 'class="note exact"' in exact.text
    other = client.get("/ui/tables?measure=victims&rows=year&columns=sex&country=MK&exact=1")
    assert other.status_code == 403 and "own country only" in other.text


def test_bad_fields_are_named_and_never_echoed(client: TestClient, hub: HubHome) -> None:
    _sign_in(client, hub, "ana")
    response = client.get("/ui/tables?measure=victims&rows=year&year_from=<script>&country=ZZ")
    assert "Check these fields: Country, From year" in response.text
    assert "script&gt;" not in response.text and "ZZ" not in response.text
    for query in ("year_from=%C2%B2", "year_from=" + "9" * 5000, "year_from=2024&year_to=2020", "columns=year",
                  "rows=nonsense", "columns=pair"):  # fmt: skip
        page = client.get(f"/ui/tables?measure=victims&rows=year&{query}")
        assert page.status_code == 200 and "Check these fields" in page.text, query
    download = client.get("/ui/tables.csv?measure=victims&rows=year&year_from=%C2%B2")
    assert download.status_code == 400 and "<h1>" in download.text
    client.cookies.clear()
    _sign_in(client, hub, "dpo")
    assert client.get("/ui/quarantine?country=ZZ").status_code == 400


def test_forms_of_another_site_cannot_sign_in_or_out(client: TestClient, hub: HubHome) -> None:
    elsewhere = {"Origin": "https://elsewhere.example"}
    assert client.post("/ui/sign-in", data={"token": hub.tokens["ana"]}, headers=elsewhere).status_code == 403
    assert client.post("/ui/sign-in", data={"token": hub.tokens["ana"]},
                       headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403  # fmt: skip
    _sign_in(client, hub, "ana")
    assert client.post("/ui/sign-out", headers=elsewhere).status_code == 403
    assert client.get("/ui/tables").status_code == 200
    assert client.post("/ui/sign-in", content=b"token=" + b"x" * 10_000).status_code == 413


def test_codes_in_their_order_and_labels_before_country_names() -> None:
    from release.web import Page, _order

    assert sorted(["48+", "9-17", "0-8", "18-20", "not_recorded"], key=_order) == [
        "0-8", "9-17", "18-20", "48+", "not_recorded"]  # fmt: skip
    page = Page(None, "en", "/ui/tables")
    assert page.value("citizenship", "not_recorded") == "Not recorded"
    assert page.value("citizenship", "MK") == "North Macedonia"
    assert page.value("country", "ALL") == "The region"


def test_the_language_comes_from_the_browser_or_the_switch(client: TestClient, hub: HubHome) -> None:
    _sign_in(client, hub, "ana")
    page = client.get("/ui/tables", headers={"Accept-Language": "sr-Latn-RS,sr;q=0.9,en;q=0.5"})
    assert '<html lang="sr-Latn">' in page.text
    switched = client.get("/ui/language?to=sr_Cyrl&back=/ui/tables")
    assert (
        switched.headers["location"] == "/ui/tables" and f"{LANGUAGE_COOKIE}=sr_Cyrl" in switched.headers["set-cookie"]
    )
    assert client.get("/ui/language?to=sq&back=https://elsewhere.example/").headers["location"] == "/ui/"
    kept = client.get("/ui/language?to=sq&back=/ui/tables%3Fmeasure%3Dvictims%26rows%3Dsex%26columns%3D%26x%3D1")
    assert kept.headers["location"] == "/ui/tables?measure=victims&rows=sex&columns=&country=&year_from=&year_to="


def test_negotiation() -> None:
    assert i18n.negotiate(None, "sr-RS,en;q=0.8") == "sr_Cyrl"
    assert i18n.negotiate(None, "sr-Latn-ME") == "sr_Latn"
    assert i18n.negotiate(None, "de-DE,sq;q=0.7,mk;q=0.9") == "mk"
    assert i18n.negotiate(None, "bs-BA") == "sr_Latn"
    assert i18n.negotiate(None, "fr, *;q=0.1") == "en"
    assert i18n.negotiate(None, "sq;q=0, mk;q=0.5") == "mk"
    assert i18n.negotiate("sq", "sr-RS") == "sq"
    assert i18n.negotiate("xx", None) == "en"


def test_where_to_go_after_signing_in_stays_on_the_hub() -> None:
    assert _safe_back("/ui/audit?last=5") == "/ui/audit"
    assert _safe_back("/ui/tables?measure=links&rows=pair") == (
        "/ui/tables?measure=links&rows=pair&columns=&country=&year_from=&year_to="
    )
    for elsewhere in ("https://evil.example/ui/", "//evil.example/ui/", "/v1/audit", "/ui/x", "/ui\\..\\x", ""):
        assert _safe_back(elsewhere) == ""


def test_the_full_reports_for_officers_only(client: TestClient, hub: HubHome) -> None:
    _sign_in(client, hub, "dpo")
    risk = client.get("/ui/disclosure-risk")
    assert risk.status_code == 200 and "<h1>Disclosure-risk report</h1>" in risk.text
    assert client.get("/ui/validation").status_code == 200
    client.cookies.clear()
    _sign_in(client, hub, "ana")
    assert client.get("/ui/disclosure-risk").status_code == 403
