"""The docs name what the code has: every canonical table and column, every KPI."""

from __future__ import annotations

from b2bmetrics.registry import KPIS, MEASURES, PAGE_KPIS
from b2bmetrics.schema import TABLES
from tests.conftest import ROOT


def test_contract_doc_lists_every_canonical_column() -> None:
    text = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        assert f"## {table.name} " in text
        for col in table.columns:
            assert f"| {col.name}{'*' if col.required else ''} |" in text, (table.name, col.name)


def test_every_kpi_has_both_labels_and_a_description() -> None:
    for kpi in (*KPIS, *PAGE_KPIS, *MEASURES):
        assert kpi.label.en and kpi.label.zh and kpi.description.en and kpi.description.zh, kpi.key


def test_readme_quick_start_has_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
