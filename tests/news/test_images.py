"""Cover images: checked by content, resized, stripped of metadata, stored by content hash."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from fancampaign.extensions import db
from fancampaign.news import images
from fancampaign.news.models import NewsPost
from tests.news.conftest import image_bytes

FORM = {"title": "With a picture", "body": "Look.", "publish": "now", "cover_alt": "A cyborg"}


def upload_dir(app: Any) -> Path:
    return Path(app.config["UPLOAD_FOLDER"])


def stored_files(app: Any) -> list[Path]:
    folder = upload_dir(app)
    return sorted(folder.iterdir()) if folder.exists() else []


def send(client: Any, data: bytes, name: str, **extra: Any) -> Any:
    return client.post(
        "/news/new",
        data={**FORM, **extra, "cover": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def post_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(NewsPost)) or 0


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("PNG", "cover.png"), ("PNG", "cover.jpg"), ("JPEG", "photo.jpeg"), ("WEBP", "x.webp")],
)
def test_real_images_are_accepted_whatever_their_name(
    app: Any, client: Any, login: Any, organiser: Any, fmt: str, name: str
) -> None:
    login(organiser)
    response = send(client, image_bytes(fmt, (2000, 1000)), name)
    assert response.status_code == 302, response.get_data(as_text=True)
    post = db.session.scalar(sa.select(NewsPost))
    assert post.widths == [480, 960, 1600]
    assert len(stored_files(app)) == 3
    page = client.get(f"/news/{post.slug}").get_data(as_text=True)
    assert "srcset=" in page and " 960w" in page and 'alt="A cyborg"' in page
    with client.get(f"/uploads/{images.filename(post.cover_key, 480)}") as served:
        assert served.status_code == 200
        assert "max-age=31536000" in served.headers["Cache-Control"]
        with Image.open(io.BytesIO(served.data)) as img:
            assert img.format == "WEBP" and img.width == 480


def test_exif_is_stripped(app: Any, client: Any, login: Any, organiser: Any) -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    login(organiser)
    response = send(client, image_bytes("JPEG", (800, 600), exif=exif), "camera.jpg")
    assert response.status_code == 302
    for path in stored_files(app):
        data = path.read_bytes()
        assert b"SecretCameraMaker" not in data
        with Image.open(path) as img:
            assert not img.getexif()


def test_small_image_keeps_its_width(app: Any, client: Any, login: Any, organiser: Any) -> None:
    login(organiser)
    assert send(client, image_bytes("PNG", (300, 200)), "small.png").status_code == 302
    assert db.session.scalar(sa.select(NewsPost)).widths == [300]


def _svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"this is just text pretending", "cover.jpg", "must be a JPEG, PNG or WebP"),
        (image_bytes("GIF", (100, 100)), "anim.gif", "must be a JPEG, PNG or WebP"),
        (image_bytes("GIF", (100, 100)), "anim.png", "must be a JPEG, PNG or WebP"),
        (_svg(), "vector.svg", "must be a JPEG, PNG or WebP"),
        (_svg(), "vector.png", "must be a JPEG, PNG or WebP"),
        (image_bytes("BMP", (100, 100)), "bitmap.jpg", "must be a JPEG, PNG or WebP"),
        (image_bytes("PNG", (100, 100))[:60], "truncated.png", "must be a JPEG, PNG or WebP"),
        (b"%PDF-1.4 not an image", "doc.pdf", "must be a JPEG, PNG or WebP"),
        (b"", "empty.png", None),
    ],
)
def test_files_that_are_not_allowed_images_are_refused(
    app: Any, client: Any, login: Any, organiser: Any, data: bytes, name: str, message: str | None
) -> None:
    login(organiser)
    response = send(client, data, name)
    if message is None:
        # An empty file field is "no image": the post is saved without one.
        assert response.status_code == 302
        assert db.session.scalar(sa.select(NewsPost)).cover_key is None
    else:
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
        assert post_count() == 0
    assert stored_files(app) == []


@pytest.mark.config(UPLOAD_MAX_BYTES=50_000)
def test_too_large_upload_is_refused(app: Any, client: Any, login: Any, organiser: Any) -> None:
    login(organiser)
    noisy = Image.frombytes("RGB", (400, 400), os.urandom(400 * 400 * 3))
    buf = io.BytesIO()
    noisy.save(buf, format="PNG")
    assert len(buf.getvalue()) > 50_000
    response = send(client, buf.getvalue(), "big.png")
    assert response.status_code == 400
    assert "too large" in response.get_data(as_text=True)
    assert post_count() == 0
    assert stored_files(app) == []


def test_beyond_the_request_limit_is_413(app: Any, client: Any, login: Any, organiser: Any) -> None:
    login(organiser)
    body = (
        b'--x\r\nContent-Disposition: form-data; name="cover"; filename="huge.png"\r\n\r\n'
        + b"\x89PNG"
        + b"0" * (9 * 1024 * 1024)
        + b"\r\n--x--\r\n"
    )
    response = client.post("/news/new", data=body, content_type="multipart/form-data; boundary=x")
    assert response.status_code == 413
    assert post_count() == 0


def test_decompression_bomb_is_refused(app: Any, client: Any, login: Any, organiser: Any) -> None:
    login(organiser)
    bomb = Image.new("1", (12_000, 12_000))
    buf = io.BytesIO()
    bomb.save(buf, format="PNG")
    response = send(client, buf.getvalue(), "bomb.png")
    assert response.status_code == 400
    assert post_count() == 0
    assert stored_files(app) == []


def test_image_needs_a_description(app: Any, client: Any, login: Any, organiser: Any) -> None:
    login(organiser)
    response = send(client, image_bytes(), "c.png", cover_alt="")
    assert response.status_code == 400
    assert "Describe the cover image" in response.get_data(as_text=True)
    assert post_count() == 0
    assert stored_files(app) == []


def test_bad_image_on_edit_keeps_the_old_one(
    app: Any, client: Any, login: Any, organiser: Any
) -> None:
    login(organiser)
    send(client, image_bytes(), "c.png")
    post = db.session.scalar(sa.select(NewsPost))
    key = post.cover_key
    response = client.post(
        f"/news/{post.slug}/edit",
        data={**FORM, "cover": (io.BytesIO(b"GIF89a nope"), "c.gif")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(NewsPost, post.id).cover_key == key
    removed = client.post(
        f"/news/{post.slug}/edit",
        data={**FORM, "remove_cover": "y"},
        content_type="multipart/form-data",
    )
    assert removed.status_code == 302
    db.session.expire_all()
    assert db.session.get(NewsPost, post.id).cover_key is None


def test_same_image_twice_is_stored_once(app: Any, client: Any, login: Any, organiser: Any) -> None:
    login(organiser)
    data = image_bytes("PNG", (1000, 500))
    send(client, data, "a.png")
    send(client, data, "b.png")
    assert post_count() == 2
    assert len(stored_files(app)) == 3  # 480, 960 and 1000 wide, shared


def test_a_cover_shows_on_the_news_list_and_in_the_link_preview(
    app: Any, client: Any, login: Any, organiser: Any
) -> None:
    login(organiser)
    assert send(client, image_bytes("PNG", (2000, 1000)), "cover.png").status_code == 302
    post = db.session.scalar(sa.select(NewsPost))
    listing = client.get("/news").get_data(as_text=True)
    assert 'class="news-summary__image"' in listing
    assert images.filename(post.cover_key, 480) in listing
    article = client.get(f"/news/{post.slug}").get_data(as_text=True)
    best = images.filename(post.cover_key, 1600)
    assert f'<meta property="og:image" content="http://localhost/uploads/{best}">' in article
