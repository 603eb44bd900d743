"""Data, for analysts: upload exports, check detection and mapping, see rejects, load, audit quality."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from b2bmetrics.errors import B2BError
from b2bmetrics.ingest import FilePlan, Mapping
from b2bmetrics.schema import TABLES
from ui import context, data, page, uploads
from ui.i18n import label, pick, t
from ui.tables import edit_table, show_table

UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet"]
COMPLETENESS = {"completeness": (0.0, 1.0)}  # drawn as bars


def render_plan(plan: FilePlan, index: int) -> tuple[str, Mapping | None]:
    """Show one file's detection and mapping; return the table and mapping the user settled on."""
    with st.expander(f"{plan.source} → **{plan.table}** ({plan.table_reason})", expanded=True):
        cols = st.columns(4)
        cols[0].metric(label("rows"), f"{plan.rows:,}" if plan.rows is not None else "—")
        cols[1].metric(pick("Encoding", "编码"), plan.encoding or "—")
        cols[2].metric(pick("Delimiter", "分隔符"), {"\t": "tab"}.get(plan.delimiter or "", plan.delimiter or "—"))
        table = cols[3].selectbox(label("table_name"), list(TABLES), index=list(TABLES).index(plan.table),
                                  key=f"data_table_{index}")
        headers = [""] + list(plan.mapping.values()) + list(plan.unmapped_headers)
        columns = TABLES[table].column_names
        editor = pd.DataFrame({
            "column": list(columns),
            "required": [c.required for c in TABLES[table].columns],
            "header": [plan.mapping.get(c, "") if table == plan.table else "" for c in columns],
        })
        edited = edit_table(editor, f"data_mapping_{index}_{table}", disabled=["column", "required"], extra_config={
            "header": st.column_config.SelectboxColumn(label("header"), options=headers)})
        chosen = {row.column: row.header for row in edited.itertuples() if row.header}
        changed = table != plan.table or chosen != plan.mapping
        mapping = Mapping(table=table, columns=chosen, source=f"{plan.source} (edited)") if changed else None
        if st.button(pick("Save this mapping for the next upload", "保存此映射供下次上传使用"),
                     key=f"data_save_map_{index}", icon=":material/save:"):
            saved = uploads.save_mapping(table, chosen)
            where = f"{saved.parent.name}/{saved.name}"
            st.success(pick(f"Saved to {where}", f"已保存到 {where}"))
        try:
            rejects = uploads.rejects(plan, mapping)
        except B2BError as exc:
            st.error(str(exc))
            return table, mapping
        if rejects:
            st.warning(pick(f"{len(rejects)} rows would be rejected", f"{len(rejects)} 行将被拒绝"))
            show_table(pd.DataFrame([r.__dict__ for r in rejects]), f"rejects_{plan.source}", f"data_rejects_{index}")
        else:
            st.success(pick("Every row is valid.", "所有行均有效。"))
    return table, mapping


def render_upload() -> None:
    st.subheader(pick("Load CRM exports", "加载 CRM 导出文件"))
    files = st.file_uploader(pick("CSV, XLSX or Parquet files", "CSV、XLSX 或 Parquet 文件"), type=UPLOAD_TYPES,
                             accept_multiple_files=True, key="data_uploader")
    if not files:
        return
    stored = uploads.store(files)
    for f in stored.too_large:
        st.error(pick(f"{f.name}: {f.size / 1e6:.0f} MB is over the {uploads.MAX_UPLOAD_MB} MB limit; "
                      "load it with `b2bmetrics ingest` instead.",
                      f"{f.name}：{f.size / 1e6:.0f} MB 超过 {uploads.MAX_UPLOAD_MB} MB 上限，请用 `b2bmetrics ingest` 加载。"))
    try:
        plans = uploads.plans(stored.paths)
    except B2BError as exc:
        st.error(str(exc))
        return
    settled = [(plan, *render_plan(plan, i)) for i, plan in enumerate(plans)]
    left, right = st.columns(2)
    allow = left.toggle(pick("Load valid rows, keep rejects aside", "加载有效行，拒绝行另存"), key="data_allow")
    append = right.toggle(pick("Append (upsert by id) instead of replace", "追加（按编号更新）而非替换"),
                          key="data_append")
    if st.button(pick("Load", "加载"), type="primary", key="data_load", icon=":material/upload:"):
        render_load(settled, allow, append)


def render_load(settled: list[tuple[FilePlan, str, Mapping | None]], allow: bool, append: bool) -> None:
    bar = st.progress(0.0, text=pick("Loading …", "正在加载 …"))

    def waiting(_message: str) -> None:  # the CLI or another user is loading: this load waits its turn
        bar.progress(0.0, text=pick("Waiting for another load of this database to finish (up to 30 s) …",
                                    "正在等待另一个加载完成（最多 30 秒）…"))

    try:
        results = uploads.load(settled, allow_rejects=allow, append=append,
                               progress=lambda text, fraction: bar.progress(fraction, text=text),
                               on_wait=waiting)
    except B2BError as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.progress(1.0, text=pick("Done", "完成"))
    for r in results:
        note = pick("unchanged (already loaded)", "未变化（已加载过）") if r.skipped else \
            pick(f"{r.rows:,} rows loaded, {r.rejected:,} rejected", f"已加载 {r.rows:,} 行，拒绝 {r.rejected:,} 行")
        st.success(f"{r.table} ← {r.source}: {note}")


def render_quality() -> None:
    st.subheader(pick("Data quality", "数据质量"))
    summary = data.quality_summary()["tables"]
    frame = pd.DataFrame([{"table_name": name, **vals} for name, vals in summary.items()])
    show_table(frame, "data_quality", "data_quality", progress=COMPLETENESS)
    table = st.selectbox(pick("Columns of table", "查看数据表的列"), list(TABLES), key="data_quality_table")
    show_table(data.quality_columns(table), f"columns_{table}", "data_columns", progress=COMPLETENESS)
    st.download_button(pick(f"Download table {table} (CSV)", f"下载数据表 {table}（CSV）"),
                       lambda: uploads.whole_table_csv(table), file_name=f"{table}.csv",
                       mime="text/csv", key="data_download_table", icon=":material/download:", on_click="ignore")
    rejects = data.quality_last_rejects()
    if len(rejects):
        st.markdown(pick("**Rejected rows of the last load per table**", "**各表最近一次加载的拒绝行**"))
        show_table(rejects, "last_rejects", "data_rejects")


def render_history() -> None:
    st.subheader(pick("Load history", "加载历史"))
    history = data.quality_load_history()
    if not len(history):
        st.caption(pick("Nothing loaded yet.", "尚未加载任何数据。"))
        return
    show_table(history, "load_history", "data_history", height=250)


page.start("page_data")
if not context.require_scope().may_manage_data:  # not in this role's navigation; refuse if reached anyway
    st.error(t("data_page_refused"), icon=":material/lock:")
    st.stop()
render_upload()
render_history()
render_quality()
