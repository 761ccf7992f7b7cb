"""Forum test kit: watched words are stubbed so each test says what they answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fancampaign.moderation import watch


class WatchStub:
    """Words that make watch.screen() answer "block" or "hold"."""

    def __init__(self) -> None:
        self.block: dict[str, str] = {}
        self.hold: set[str] = set()

    def screen(self, text: str) -> watch.Verdict:
        lowered = text.lower()
        for word, message in self.block.items():
            if word in lowered:
                return watch.Verdict("block", message)
        if any(word in lowered for word in self.hold):
            return watch.Verdict("hold")
        return watch.OK


@pytest.fixture(autouse=True)
def watched(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[WatchStub]:
    stub = WatchStub()
    monkeypatch.setattr(watch, "screen", stub.screen)
    yield stub
