"""The site's address: every absolute URL comes from BASE_URL, never from the Host header a
request carries, and requests for a host the site is not are refused."""

from __future__ import annotations

from html import unescape

import pytest

from fancampaign import create_app
from fancampaign.config import allowed_hosts
from tests.conftest import links_in, make_config
from tests.factories import PASSWORD, make_news_post, make_petition, make_user

# A name the site also answers to (say the IP a health check uses): still not its address.
ALIAS = "10.0.0.5"
alias_allowed = pytest.mark.config(ALLOWED_HOSTS=[ALIAS])


def _mail_for(client, kind: str) -> None:
    """Make the site send the mail of this kind, asked for through the alias."""
    headers = {"Host": ALIAS}
    if kind == "reset password":
        make_user("hugo", email="hugo@example.com")
        client.post("/reset-password", data={"email": "hugo@example.com"}, headers=headers)
    elif kind == "confirm email":
        data = {"username": "alita", "email": "alita@example.com", "password": PASSWORD}
        data["confirm"] = PASSWORD
        client.post("/register", data=data, headers=headers)
    elif kind == "account already exists":
        make_user("hugo", email="hugo@example.com")
        data = {"username": "another", "email": "hugo@example.com", "password": PASSWORD}
        data["confirm"] = PASSWORD
        client.post("/register", data=data, headers=headers)
    else:
        petition = make_petition()
        data = {"name": "Guest Fan", "email": "guest@example.com", "consent": "y"}
        client.post(f"/petitions/{petition.slug}/sign", data=data, headers=headers)


@alias_allowed
@pytest.mark.parametrize(
    "kind", ["reset password", "confirm email", "account already exists", "guest signature"]
)
def test_mail_links_ignore_the_host_header(client, outbox, kind):
    _mail_for(client, kind)

    (message,) = outbox
    links = links_in(message)
    assert links
    assert all(link.startswith("http://localhost/") for link in links), links


def test_a_request_for_another_host_is_refused_and_sends_nothing(client, outbox):
    make_user("hugo", email="hugo@example.com")

    response = client.post(
        "/reset-password", data={"email": "hugo@example.com"}, headers={"Host": "evil.example"}
    )

    assert response.status_code == 400
    assert "does not answer to that host name" in response.get_data(as_text=True)
    assert outbox == []
    assert client.get("/", headers={"Host": "localhost:8080"}).status_code == 200  # any port


@alias_allowed
def test_allowed_hosts_add_names_the_site_answers_to(app, client):
    assert app.config["TRUSTED_HOSTS"] == ["localhost", ALIAS]
    assert client.get("/healthz", headers={"Host": f"{ALIAS}:8000"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "10.0.0.6"}).status_code == 400


def test_allowed_hosts_read_from_a_list_or_a_comma_separated_setting():
    assert allowed_hosts("10.0.0.5, Health.Example ,") == ["10.0.0.5", "health.example"]
    assert allowed_hosts(["a.example"]) == ["a.example"]
    assert allowed_hosts(None) == allowed_hosts("") == []


@alias_allowed
def test_share_links_feeds_api_and_embed_code_come_from_base_url(client):
    petition = make_petition(title="Bring Alita back to the big screen")
    make_news_post(title="The sequel is in talks")
    headers = {"Host": ALIAS}

    pages = {
        path: client.get(path, headers=headers).get_data(as_text=True)
        for path in (
            f"/petitions/{petition.slug}",
            f"/petitions/{petition.slug}/embed",
            "/news/feed.atom",
            "/api/v1/petitions",
        )
    }
    spec = client.get("/api/v1/openapi.json", headers=headers).get_json()

    assert (
        f'value="http://localhost/petitions/{petition.slug}"'
        in pages[f"/petitions/{petition.slug}"]
    )
    assert (
        f'href="http://localhost/petitions/{petition.slug}"'
        in pages[f"/petitions/{petition.slug}/embed"]
    )
    assert 'href="http://localhost/news/feed.atom"' in pages["/news/feed.atom"]
    assert f'"url":"http://localhost/petitions/{petition.slug}"' in pages[
        "/api/v1/petitions"
    ].replace(" ", "")
    assert spec["servers"] == [{"url": "http://localhost/api/v1"}]
    assert not any(ALIAS in page for page in pages.values())


# Settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [{"TESTING": True}, {"DEBUG": True}, {"DEMO": True}])
def test_outside_production_base_url_defaults_to_this_machine(tmp_path, mode):
    config = make_config(tmp_path, **{"TESTING": False, **mode})
    del config["BASE_URL"], config["ALLOWED_HOSTS"]

    app = create_app(config)

    assert app.config["BASE_URL"] == "http://localhost:5000"
    assert app.config["TRUSTED_HOSTS"] == ["localhost", "127.0.0.1"]


def test_production_without_base_url_stops_with_a_clear_message(tmp_path):
    config = make_config(tmp_path, TESTING=False)
    del config["BASE_URL"]

    with pytest.raises(RuntimeError, match="BASE_URL is not set"):
        create_app(config)


@pytest.mark.parametrize("url", ["campaign.example.org", "ftp://campaign.example.org", "https://"])
def test_a_base_url_that_is_not_an_address_stops_with_a_clear_message(tmp_path, url):
    with pytest.raises(RuntimeError, match="BASE_URL must be an http"):
        create_app(make_config(tmp_path, TESTING=False, BASE_URL=url))


def test_production_answers_to_base_url_host_only(tmp_path):
    config = make_config(tmp_path, TESTING=False, BASE_URL="https://Campaign.Example.org/")
    del config["ALLOWED_HOSTS"]

    app = create_app(config)

    assert app.config["BASE_URL"] == "https://Campaign.Example.org"
    assert app.config["TRUSTED_HOSTS"] == ["campaign.example.org"]


@alias_allowed
def test_the_embed_code_is_an_iframe_on_base_url_that_pastes_safely(client):
    petition = make_petition(title='The "director\'s cut" <now>')

    html = client.get(f"/petitions/{petition.slug}", headers={"Host": ALIAS}).get_data(as_text=True)

    src = f"http://localhost/petitions/{petition.slug}/embed"
    title = "The &#34;director&#39;s cut&#34; &lt;now&gt;"
    for field, (width, height) in (("embed-code", (300, 250)), ("embed-code-banner", (728, 90))):
        code = html[html.index(f'id="{field}"') :]
        code = unescape(code[code.index(">") + 1 : code.index("</textarea>")])
        assert code == (
            f'<iframe src="{src}" title="{title}" width="{width}" height="{height}" '
            'loading="lazy"></iframe>'
        )
