"""Drawing a 1200x630 share card (the size Open Graph and X's large card expect)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 630
MARGIN = 72
INK = (11, 12, 12)
PAPER = (255, 255, 255)
MUTED = (72, 73, 73)
STRIPE = (29, 112, 184)
BAR = (0, 112, 60)
TRACK = (224, 227, 229)

# DejaVu comes with Debian's fonts (and Chromium); elsewhere Pillow's own font stands in.
_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


@dataclass(frozen=True)
class Card:
    """What a card says, top to bottom. `progress` (0..1) draws a bar; None draws none."""

    kicker: str
    title: str
    subtitle: str = ""
    figure: str = ""
    figure_note: str = ""
    progress: float | None = None
    footer: str = ""


@cache
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in _FONT_DIRS:
        if (folder / name).exists():
            return ImageFont.truetype(str(folder / name), size)
    return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: object, width: int, lines: int) -> list[str]:
    """Words in at most `lines` lines of `width` px, the last cut with an ellipsis."""
    out: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not current:
            current = trial
            continue
        out.append(current)
        current = word
    if current:
        out.append(current)
    if len(out) > lines:
        out = out[:lines]
        last = out[-1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1].rstrip()
        out[-1] = last + "…"
    # A single word wider than the card: cut it too.
    return [_fit(draw, line, font, width) for line in out]


def _fit(draw: ImageDraw.ImageDraw, text: str, font: object, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def draw(card: Card) -> bytes:
    """The card as PNG bytes."""
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    pen = ImageDraw.Draw(image)
    inner = WIDTH - 2 * MARGIN
    pen.rectangle((0, 0, WIDTH, 14), fill=STRIPE)

    y = 56
    pen.text(
        (MARGIN, y),
        _fit(pen, card.kicker.upper(), _font(26, True), inner),
        font=_font(26, True),
        fill=MUTED,
    )
    y += 52
    title_font = _font(60, True)
    for line in _wrap(pen, card.title, title_font, inner, 3 if card.progress is None else 2):
        pen.text((MARGIN, y), line, font=title_font, fill=INK)
        y += 74
    if card.subtitle:
        y += 6
        sub_font = _font(32)
        for line in _wrap(pen, card.subtitle, sub_font, inner, 2):
            pen.text((MARGIN, y), line, font=sub_font, fill=MUTED)
            y += 42

    bottom = HEIGHT - 64
    if card.progress is not None:
        bar_top = bottom - 96
        pen.rectangle((MARGIN, bar_top, WIDTH - MARGIN, bar_top + 28), fill=TRACK, outline=MUTED)
        done = max(0.0, min(1.0, card.progress))
        if done > 0:
            right = MARGIN + max(6, round(inner * done))
            pen.rectangle((MARGIN, bar_top, right, bar_top + 28), fill=BAR)
        figure_font = _font(54, True)
        top = bar_top - 78
        pen.text((MARGIN, top), card.figure, font=figure_font, fill=INK)
        if card.figure_note:
            x = MARGIN + pen.textlength(card.figure + "  ", font=figure_font)
            note_font = _font(32)
            pen.text(
                (x, top + 18),
                _fit(pen, card.figure_note, note_font, int(WIDTH - MARGIN - x)),
                font=note_font,
                fill=MUTED,
            )
    if card.footer:
        pen.text(
            (MARGIN, bottom), _fit(pen, card.footer, _font(26), inner), font=_font(26), fill=MUTED
        )

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def icon(size: int, fmt: str = "PNG") -> bytes:
    """The site's square icon at `size` px: "fc" on the header's black, over its blue stripe
    (the favicon, the home-screen and the manifest icons)."""
    image = Image.new("RGB", (size, size), INK)
    pen = ImageDraw.Draw(image)
    stripe = max(1, size // 8)
    pen.rectangle((0, size - stripe, size, size), fill=STRIPE)
    font = _font(max(8, round(size * 0.5)), True)
    box = pen.textbbox((0, 0), "fc", font=font)
    x = (size - (box[2] - box[0])) / 2 - box[0]
    y = (size - stripe - (box[3] - box[1])) / 2 - box[1]
    pen.text((x, y), "fc", font=font, fill=PAPER)
    out = io.BytesIO()
    if fmt == "ICO":
        image.save(out, format="ICO", sizes=[(16, 16), (32, 32), (48, 48)])
    else:
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()
