"""Numbers as people read them: registry.format_value per format, language and tile size."""

from __future__ import annotations

import pytest

from b2bmetrics.registry import format_value


@pytest.mark.parametrize(("value", "fmt", "lang", "compact", "shown"), [
    (34_437_812.0, "money", "en", True, "¥34.4M"),
    (34_437_812.0, "money", "zh", True, "¥3,444万"),      # 3,443.78万 rounded: a tile has no room for tenths
    (34_437_812.0, "money", "zh", False, "¥3,443.8万"),   # a table keeps them
    (522_100.0, "money", "zh", True, "¥52.2万"),          # below 100万 the tenths still count
    (250_000_000.0, "money", "zh", True, "¥2.50亿"),
    (0.114, "percent", "en", False, "11.4%"),
    (None, "money", "en", False, "—"),
])
def test_format_value(value: float | None, fmt: str, lang: str, compact: bool, shown: str) -> None:
    assert format_value(value, fmt, lang, "CNY", compact=compact) == shown  # type: ignore[arg-type]
