"""The anonymous page cache: served from Redis, invalidated by commits, never personal."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from flask import Response, g, render_template_string, session
from flask_wtf.csrf import generate_csrf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from fancampaign import memo
from fancampaign.caching import GROUPS
from fancampaign.extensions import db
from fancampaign.pagecache import Page, fragment, frozen, store, versions
from fancampaign.pagecache.binding import prefix
from fancampaign.pagecache.pages import PAGE_PREFIX
from tests.factories import make_petition, make_reply, make_thread, make_user
from tests.helpers import REDIS_URL, redis_is_up


@pytest.fixture
def probe(app):
    """A cached page counting its renders; /probe/form holds a CSRF token."""
    renders = {"n": 0}

    def page():
        renders["n"] += 1
        names = ", ".join(u.name for u in db.session.scalars(db.select(cache_user_model())))
        return f"<p>render {renders['n']}: {names}</p>"

    def form_page():
        renders["n"] += 1
        return render_template_string(
            "<form><input name=csrf_token value='{{ t }}'></form>", t=generate_csrf()
        )

    app.add_url_rule("/probe", "probe", Page("probe", depends=GROUPS)(page))
    app.add_url_rule("/probe/form", "probe_form", Page("form", depends=GROUPS)(form_page))
    app.add_url_rule(
        "/probe/plain", "probe_plain", Page("plain", depends=GROUPS)(lambda: "<p>same</p>")
    )
    app.config["PAGE_CACHE_PREFIX"] = f"test-{uuid.uuid4().hex}:"
    return renders


@pytest.fixture(autouse=True, params=["redis", "local+redis", "local"])
def versions_kept(request):
    """Each test with the versions and pages in Redis (several hosts), with the versions on
    this machine and the pages in Redis and each worker, and with no Redis at all (the quick
    start), whichever database runs it."""
    if "app" not in request.fixturenames:
        return
    if request.param != "local" and not redis_is_up():
        pytest.skip("needs Redis (REDIS_URL)")
    config = request.getfixturevalue("app").config
    config["PAGE_CACHE_VERSIONS"] = "redis" if request.param == "redis" else "local"
    config["PAGE_CACHE_VERSIONS_FILE"] = str(request.getfixturevalue("tmp_path") / "versions")
    if request.param == "local":
        config.pop("REDIS_URL", None)
    else:
        config["REDIS_URL"] = REDIS_URL
    request.getfixturevalue("app").extensions.pop("fancampaign_pagecache_versions", None)


def _bump_in_another_process(app, group):
    """What a write in another worker does to the versions, unseen by this one."""
    with app.app_context():
        local = versions.local_versions()
        if local is None:
            store.redis_client().incr(prefix() + versions.VERSION_PREFIX + group)
            return
    code = (
        "import sys; from fancampaign.pagecache.versions import LocalVersions as V; "
        "V(sys.argv[1], sys.argv[3].split(',')).bump([sys.argv[2]])"
    )
    subprocess.run(
        [sys.executable, "-c", code, local.path, group, ",".join(sorted(GROUPS))], check=True
    )


def cache_user_model():
    from fancampaign.accounts.models import User

    return User


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_anonymous_page_is_rendered_once_then_served_from_redis(client, probe):
    first = client.get("/probe")
    second = client.get("/probe")

    assert first.status_code == second.status_code == 200
    assert second.data == first.data
    assert probe["n"] == 1
    assert second.headers["Cache-Control"] == "public, no-cache"
    assert "Cookie" in second.headers["Vary"]


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_a_committed_write_shows_on_the_next_request(client, probe):
    user = make_user(username="koyomi")
    db.session.commit()
    assert b"koyomi" in client.get("/probe").data

    user.display_name = "Koyomi the scrapper"
    db.session.commit()

    assert b"Koyomi the scrapper" in client.get("/probe").data
    assert probe["n"] == 2


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_a_rolled_back_write_and_a_login_time_do_not_invalidate(client, probe):
    user = make_user(username="zapan")
    db.session.commit()
    client.get("/probe")

    user.display_name = "never saved"
    db.session.flush()
    db.session.rollback()
    user.last_login_at = db.func.now()
    db.session.commit()
    client.get("/probe")

    assert probe["n"] == 1


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_a_version_moved_by_another_process_is_never_served_the_old_page(app, client, probe):
    """The lookup guesses the versions this process saw last; a bump it never saw (another
    worker's write) must still make the page stored under them unreachable."""
    first = client.get("/probe")
    assert client.get("/probe").data == first.data and probe["n"] == 1
    _bump_in_another_process(app, "forum")

    again = client.get("/probe")
    after = client.get("/probe")

    assert probe["n"] == 2  # rendered afresh once, under the new versions
    assert again.data == after.data != first.data
    with app.test_request_context("/probe"):
        page = app.view_functions["probe"].page
        found = store.lookup(prefix() + PAGE_PREFIX + page.page_id(), page.depends)
    assert found.stored is not None and found.key.startswith(prefix() + PAGE_PREFIX)


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_conditional_get_is_answered_304_without_rendering(client, probe):
    etag = client.get("/probe").headers["ETag"].strip('"')

    again = client.get("/probe", headers={"If-None-Match": f'"{etag}"'})

    assert again.status_code == 304
    assert probe["n"] == 1


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_logged_in_people_get_a_fresh_private_page(client, probe, login):
    client.get("/probe")
    login(make_user(username="hugo"))
    db.session.commit()

    response = client.get("/probe")

    assert probe["n"] == 2
    assert response.headers["Cache-Control"] == "private, no-cache"


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_each_visitor_gets_their_own_csrf_token_from_a_cached_form(app, probe):
    first, second = app.test_client(), app.test_client()

    a = first.get("/probe/form")
    # The test kit keeps one app context (and `g`) across requests; a server does not.
    g.pop("csrf_token", None)
    b = second.get("/probe/form")

    assert probe["n"] == 1
    assert frozen.CSRF_MARK.encode() not in b.data
    assert a.data != b.data
    with second.session_transaction() as session:
        assert session["csrf_token"]
    assert b.headers["Cache-Control"] == "private, no-cache"
    assert "ETag" not in b.headers


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_a_dead_redis_only_costs_the_cache(app, client, probe):
    app.config.update(REDIS_URL="redis://127.0.0.1:1/0", PAGE_CACHE_VERSIONS="redis")
    app.extensions.pop("fancampaign_redis", None)
    app.extensions.pop("fancampaign_pagecache_versions", None)
    assert client.get("/probe").status_code == 200
    assert client.get("/probe").status_code == 200
    assert probe["n"] == 2


def test_without_redis_pages_still_get_etags_and_304(client, probe):
    first = client.get("/probe/plain")
    again = client.get("/probe/plain", headers={"If-None-Match": first.headers["ETag"]})

    assert first.headers["Cache-Control"] == "public, no-cache"
    assert again.status_code == 304


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_memoise_computes_once_per_key(app):
    app.config["PAGE_CACHE_PREFIX"] = f"test-{uuid.uuid4().hex}:"
    calls = []

    def compute():
        calls.append(1)
        return [["GB", 3], ["FR", 2]]

    assert memo.memoise("k:1", compute) == [["GB", 3], ["FR", 2]]
    assert memo.memoise("k:1", compute) == [["GB", 3], ["FR", 2]]
    assert memo.memoise("k:2", compute) == [["GB", 3], ["FR", 2]]
    assert len(calls) == 2


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_memoise_without_redis_keeps_values_in_the_process(app):
    calls = []
    key = f"k:{uuid.uuid4().hex}"

    def compute():
        calls.append(1)
        return {"n": 1}

    assert memo.memoise(key, compute) == memo.memoise(key, compute) == {"n": 1}
    assert len(calls) == 1


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_a_page_that_sets_a_cookie_is_never_public(app, client, probe):
    def page_writing_the_session():
        session["seen"] = True
        return "<p>nothing personal shown</p>"

    app.add_url_rule(
        "/probe/quiet", "probe_quiet", Page("quiet", depends=GROUPS)(page_writing_the_session)
    )

    first = client.get("/probe/quiet")
    again = app.test_client().get("/probe/quiet")

    assert "Set-Cookie" in first.headers
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert "Set-Cookie" not in again.headers
    assert again.headers["Cache-Control"] == "public, no-cache"


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_a_form_made_but_not_shown_gives_no_cookie_and_a_public_page(app, client, probe):
    def page_with_unrendered_form():
        generate_csrf()  # what instantiating a FlaskForm does
        return "<p>no form shown</p>"

    app.add_url_rule(
        "/probe/unshown",
        "probe_unshown",
        Page("unshown", depends=GROUPS)(page_with_unrendered_form),
    )

    first = client.get("/probe/unshown")
    g.pop("csrf_token", None)
    again = app.test_client().get("/probe/unshown")

    for response in (first, again):
        assert "Set-Cookie" not in response.headers
        assert response.headers["Cache-Control"] == "public, no-cache"


def test_under_test_the_cache_is_off_unless_asked(client, probe):
    client.get("/probe")
    client.get("/probe")

    assert probe["n"] == 2


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_a_fragment_is_rendered_once_for_every_viewer_until_a_write(app):
    app.config["PAGE_CACHE_PREFIX"] = f"test-{uuid.uuid4().hex}:"
    renders = []

    def render():
        renders.append(1)
        names = ", ".join(u.name for u in db.session.scalars(db.select(cache_user_model())))
        return f"<p>{names}</p>"

    user = make_user(username="koyomi")
    db.session.commit()
    with app.test_request_context("/"):
        first = fragment("people", render, depends=["people"])
    with app.test_request_context("/other"):
        again = fragment("people", render, depends=["people"])
    assert first == again == "<p>koyomi</p>" and len(renders) == 1

    user.display_name = "Koyomi the scrapper"
    db.session.commit()  # what pages show of a user changed: the fragment is out of reach
    with app.test_request_context("/"):
        assert "Koyomi the scrapper" in fragment("people", render, depends=["people"])
    assert len(renders) == 2


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_a_fragment_holding_the_viewers_csrf_token_is_never_stored(app):
    app.config["PAGE_CACHE_PREFIX"] = f"test-{uuid.uuid4().hex}:"
    renders = []

    def render():
        renders.append(1)
        return f"<input value='{generate_csrf()}'>"

    for _ in range(2):
        with app.test_request_context("/"):
            fragment("form", render, depends=GROUPS)
    assert len(renders) == 2


def test_with_the_cache_off_a_fragment_is_rendered_each_time(app):
    renders = []
    with app.test_request_context("/"):
        fragment("x", lambda: renders.append(1) or "<p>x</p>", depends=GROUPS)
        assert fragment("x", lambda: renders.append(1) or "<p>x</p>", depends=GROUPS) == "<p>x</p>"
    assert len(renders) == 2


# The stored form of a page: split at slots and CSRF tokens --------------------------------

_TOKEN = frozen.CSRF_MARK
_html_text = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    max_size=30,
)
_slot = st.tuples(
    st.sampled_from(["nav", "like", "sign"]),
    st.from_regex(r"[\w.-]{0,6}", fullmatch=True),
    _html_text,
)
_piece = st.one_of(_html_text, st.just(_TOKEN), _slot)


def _joined(pieces, *, marked: bool) -> str:
    out = []
    for piece in pieces:
        if isinstance(piece, tuple):
            name, arg, html = piece
            out.append(frozen.marked_slot(name, arg, html) if marked else html)
        else:
            out.append(piece)
    return "".join(out)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(_piece, max_size=12))
def test_a_frozen_page_thaws_to_the_page_with_the_visitors_own_token(app, pieces):
    """Whatever the page holds (text, tokens, slots), freezing and thawing it without fills
    gives the page back, slots unmarked and each token the thawing visitor's own."""
    plain = _joined(pieces, marked=False)
    # Escaped user text and our templates never spell an HTML comment themselves.
    assume("<!--" not in plain and "-->" not in plain)
    body = _joined(pieces, marked=True)
    with app.test_request_context("/"):
        kept = frozen.freeze(Response(body), {"m": {"n": 1}})
        g.csrf_token = "the-next-visitors-token"
        opened = frozen.open_(kept)
        data = opened.data
        thawed = frozen.thaw(opened).decode()
    expected = _joined(pieces, marked=False).replace(_TOKEN, "the-next-visitors-token")
    assert thawed == expected
    assert data["m"] == {"n": 1}
    assert data["t"] == (_TOKEN in body)


def test_local_versions_count_every_bump_of_every_process(tmp_path):
    """Workers bumping at once lose no increment (a lost one would keep a stale page)."""
    path, start = str(tmp_path / "db-page-versions"), tmp_path / "start"
    code = (
        "import os, sys\n"
        "from fancampaign.pagecache.versions import LocalVersions\n"
        "versions = LocalVersions(sys.argv[1], ['forum', 'people', 'site'])\n"
        "while not os.path.exists(sys.argv[2]): pass\n"
        "for _ in range(20000): versions.bump(['forum', 'site'])\n"
    )
    here = versions.LocalVersions(path, ["forum", "people", "site"])
    workers = [subprocess.Popen([sys.executable, "-c", code, path, str(start)]) for _ in range(3)]
    start.touch()
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0]

    assert here.read(["forum", "site", "people"]) == [60000, 60000, 0]
    assert (
        versions.LocalVersions(path, ["forum", "people", "site"]).identity == here.identity
    )  # the same file, the same keys


G = sorted(GROUPS)


def test_local_versions_made_afresh_never_meet_the_old_pages(tmp_path):
    """A database reset beside a new versions file starts at 0 again: the keys must differ,
    in a process that started with the old file too."""
    path = tmp_path / "db-page-versions"
    running = versions.LocalVersions(str(path), G)
    running.bump(["forum"])
    old_identity = running.identity
    path.unlink()

    again = versions.LocalVersions(str(path), G)  # another process, after the reset
    again.bump(["site"])

    assert running.read(["forum", "site"]) == again.read(["forum", "site"]) == [0, 1]
    assert running.identity == again.identity != old_identity
    path.unlink()
    running.bump(["people"])  # the bump of a process that had the old file still counts
    assert versions.LocalVersions(str(path), G).read(["people"]) == [1]
    assert versions.LocalVersions(None, G).identity != versions.LocalVersions(None, G).identity


def test_a_page_may_only_depend_on_the_apps_groups(app, client):
    app.add_url_rule("/probe/bad", "probe_bad", Page("bad", depends=["forum", "sessions"])(str))
    with app.test_request_context("/probe/bad"), pytest.raises(ValueError, match="sessions"):
        app.view_functions["probe_bad"]()


def test_the_versions_are_kept_on_this_machine_unless_redis_serves_several_hosts(app):
    app.config.pop("PAGE_CACHE_VERSIONS", None)
    app.config.pop("PAGE_CACHE_VERSIONS_FILE", None)
    app.extensions.pop("fancampaign_pagecache_versions", None)
    url = db.engine.url
    with app.app_context():
        local = versions.local_versions()
    if url.get_backend_name() == "sqlite":
        assert local is not None and local.path == url.database + "-page-versions"
    elif app.config.get("REDIS_URL"):
        assert local is None
    else:
        assert local is not None and local.path.endswith("page-versions")
    app.config["PAGE_CACHE_VERSIONS"] = "nowhere"
    app.extensions.pop("fancampaign_pagecache_versions", None)
    with app.app_context(), pytest.raises(ValueError, match="PAGE_CACHE_VERSIONS"):
        versions.local_versions()


# What a request cannot do to the page another visitor is served ---------------------------


@pytest.fixture
def own_prefix(app):
    app.config["PAGE_CACHE_PREFIX"] = f"test-{uuid.uuid4().hex}:"


def _member_client(app, user):
    client = app.test_client()
    with client.session_transaction() as stored:
        stored["_user_id"] = user.get_id()
    db.session.commit()
    return client


def _anonymous_get(app, path, **kwargs):
    """A new visitor's response and whether it came from the cache."""
    g.pop("page_cache", None)
    g.pop("csrf_token", None)  # the test kit keeps one `g` for every request
    response = app.test_client().get(path, **kwargs)
    return response, g.get("page_cache")


@pytest.mark.config(PAGE_CACHE_ENABLED=True, ALLOWED_HOSTS=["10.0.0.5"])
def test_forged_host_cannot_change_a_cached_page(app, own_prefix):
    petition = make_petition(title="Bring Alita back to the big screen")
    path = f"/petitions/{petition.slug}"
    share_url = f"http://localhost{path}"

    forged, _ = _anonymous_get(app, path, headers={"Host": "evil.example"})
    # Another name the site answers to (a health check's IP) fills the cache: its links stay.
    alias, alias_source = _anonymous_get(app, path, headers={"Host": "10.0.0.5"})
    served, source = _anonymous_get(app, path)

    assert forged.status_code == 400
    assert (alias.status_code, alias_source) == (200, "miss")
    assert (served.status_code, source) == (200, "hit")
    for response in (alias, served):
        html = response.get_data(as_text=True)
        assert f'value="{share_url}"' in html
        assert "evil.example" not in html and "10.0.0.5" not in html


# Markers: where each visitor's token and slots go, never found in what users write ---------

# The markers' old spellings, and what a slot looked like, as user text could write them.
FORGED_MARKS = "__fancampaign_csrf_token__ <!--fc:sign:1-->x<!--/fc--> <!--fc:nav:-->"


@pytest.mark.config(PAGE_CACHE_ENABLED=True, WTF_CSRF_ENABLED=True)
def test_marker_text_in_a_post_is_not_replaced(app, own_prefix):
    author = make_user("writer")
    thread = make_thread(author, title="Tracking pixels")
    link = "https://tracker.example/__fancampaign_csrf_token__/pixel"
    make_reply(author, thread, f"Look [here]({link}) and at `{FORGED_MARKS}`.")
    db.session.commit()
    path = f"/forum/t/{thread.id}"

    pages = [_anonymous_get(app, path) for _ in range(2)]
    reader = _member_client(app, make_user("reader"))
    for _ in range(2):
        g.pop("csrf_token", None)
        pages.append((reader.get(path), g.get("page_cache")))

    assert [source for _, source in pages] == ["miss", "hit", "miss", "hit"]
    for response, _ in pages:
        html = response.get_data(as_text=True)
        assert f'href="{link}"' in html
        assert escape(FORGED_MARKS) in html


@pytest.mark.config(PAGE_CACHE_ENABLED=True)
def test_slot_marker_text_in_a_petition_title_comes_back_unchanged(app, own_prefix):
    title = f"Keep {FORGED_MARKS} as written"
    petition = make_petition(title=title)
    path = f"/petitions/{petition.slug}"

    pages = [_anonymous_get(app, path) for _ in range(2)]
    reader = _member_client(app, make_user("reader"))
    for _ in range(2):
        g.pop("csrf_token", None)
        pages.append((reader.get(path), g.get("page_cache")))

    assert [source for _, source in pages] == ["miss", "hit", "miss", "hit"]
    for response, _ in pages:
        assert response.status_code == 200
        assert f'<h1 class="petition__title">{escape(title)}</h1>' in response.get_data(
            as_text=True
        )


def test_local_versions_on_a_database_server_are_announced_at_start_up(tmp_path, caplog):
    from fancampaign import create_app
    from tests.conftest import make_config

    config = make_config(
        tmp_path,
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none",
        PAGE_CACHE_VERSIONS="local",
    )
    with caplog.at_level("WARNING", logger="fancampaign.pagecache"):
        create_app(config)
        assert "with several hosts set REDIS_URL" in caplog.text
        caplog.clear()
        create_app(make_config(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/x.db"))
    assert "several hosts" not in caplog.text
