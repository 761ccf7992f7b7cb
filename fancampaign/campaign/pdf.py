"""The delivery pack as a PDF (ReportLab): the printable delivery page's content."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from fancampaign.petitions.models import Petition


def _when(value: datetime) -> str:
    return value.strftime("%-d %B %Y %H:%M UTC")


def _table(rows: list[list[Any]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (-1, 0), (-1, -1), "RIGHT"),
            ]
        )
    )
    return table


def delivery_pdf(
    *,
    petition: Petition,
    countries: dict[str, int],
    country_name: Callable[[str | None], str],
    timeline: Sequence[Any],
    deliveries: Sequence[Any],
    responses: Sequence[Any],
    made_at: datetime,
) -> bytes:
    """The PDF bytes: the petition, its count by country, its timeline and deliveries."""
    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["Italic"]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, title=petition.title, leftMargin=18 * mm, rightMargin=18 * mm
    )
    story: list[Any] = [
        Paragraph(escape(petition.title), styles["Title"]),
        Paragraph(f"To: {escape(petition.target)}", styles["Heading3"]),
        Paragraph(
            f"{petition.signature_count:,} signatures · delivery pack made {_when(made_at)}", small
        ),
        Spacer(1, 4 * mm),
        Paragraph(escape(petition.summary), body),
    ]
    for paragraph in (petition.body or "").split("\n\n"):
        if paragraph.strip():
            story.append(Paragraph(escape(paragraph.strip()).replace("\n", "<br/>"), body))
    story += [Spacer(1, 4 * mm), Paragraph("Signatures by country", styles["Heading2"])]
    rows: list[list[Any]] = [["Country", "Signatures"]]
    rows += [
        [country_name(code) if code else "Not given", f"{n:,}"] for code, n in countries.items()
    ]
    story.append(_table(rows, [120 * mm, 40 * mm]))
    story += [Spacer(1, 4 * mm), Paragraph("Campaign timeline", styles["Heading2"])]
    rows = [["When", "What"]]
    rows += [[_when(e.at), Paragraph(escape(f"{e.label}: {e.title}"), body)] for e in timeline]
    story.append(_table(rows, [50 * mm, 110 * mm]))
    if deliveries:
        story += [Spacer(1, 4 * mm), Paragraph("Deliveries", styles["Heading2"])]
        for d in deliveries:
            text = (
                f"{_when(d.delivered_at)}: to {escape(d.recipient)}, {escape(d.method_label)}, "
                f"{d.signature_count:,} signatures. {escape(d.note)}"
            )
            story.append(Paragraph(text, body))
    for r in responses:
        story += [
            Spacer(1, 4 * mm),
            Paragraph(
                escape(f"Response from {r.responder} ({r.source_label})"), styles["Heading2"]
            ),
            Paragraph(escape(r.body).replace("\n", "<br/>"), body),
        ]
    story += [
        Spacer(1, 6 * mm),
        Paragraph(
            "The list of signers (name, country, date, reason) is in the accompanying "
            "signatures.csv. Signers' email addresses are never shared.",
            small,
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
