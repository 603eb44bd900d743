"""Data, for analysts: upload exports, check detection and mapping, see rejects, load, audit quality."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pandas as pd
import streamlit as st

from b2bmetrics.csv_export import table_csv
from b2bmetrics.errors import B2BError
from b2bmetrics.ingest import FilePlan, Mapping, ingest, plan_files, preview_rejects, save_mapping_file
from b2bmetrics.metrics import quality
from b2bmetrics.schema import TABLES
from ui import context, data, page
from ui.i18n import pick, t
from ui.tables import show_table

UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "parquet"]
MAX_UPLOAD_MB = 200
UPLOAD_ROOT = context.db_path().resolve().parent / "uploads"
MAPPING_DIR = context.db_path().resolve().parent / "mappings"


def safe_name(name: str) -> str:
    """A file name with no directory parts or odd characters (CJK letters kept)."""
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^\w.\-]+", "_", base).strip("._") or "upload"
    return cleaned[:120]


def session_dir() -> Path:
    if "data_upload_dir" not in st.session_state:
        st.session_state["data_upload_dir"] = uuid.uuid4().hex
    target = UPLOAD_ROOT / st.session_state["data_upload_dir"]
    target.mkdir(parents=True, exist_ok=True)
    return target


def saved_mapping(table: str) -> Mapping | None:
    from b2bmetrics.ingest import load_mapping_file

    path = MAPPING_DIR / f"{table}.toml"
    return load_mapping_file(path) if path.exists() else None


def store_uploads(files: list) -> list[Path]:
    paths = []
    for f in files:
        if f.size > MAX_UPLOAD_MB * 1024 * 1024:
            st.error(pick(f"{f.name}: {f.size / 1e6:.0f} MB is over the {MAX_UPLOAD_MB} MB limit; "
                          "load it with `b2bmetrics ingest` instead.",
                          f"{f.name}：{f.size / 1e6:.0f} MB 超过 {MAX_UPLOAD_MB} MB 上限，请用 `b2bmetrics ingest` 加载。"))
            continue
        target = session_dir() / safe_name(f.name)
        target.write_bytes(f.getvalue())
        paths.append(target)
    return paths


def render_plan(plan: FilePlan, index: int) -> tuple[str, Mapping | None]:
    """Show one file's detection and mapping; return the table and mapping the user settled on."""
    cfg = context.config()
    with st.expander(f"{plan.source} → **{plan.table}** ({plan.table_reason})", expanded=True):
        cols = st.columns(4)
        cols[0].metric(pick("Rows", "行数"), f"{plan.rows:,}" if plan.rows is not None else "—")
        cols[1].metric(pick("Encoding", "编码"), plan.encoding or "—")
        cols[2].metric(pick("Delimiter", "分隔符"), {"\t": "tab"}.get(plan.delimiter or "", plan.delimiter or "—"))
        table = cols[3].selectbox(pick("Table", "数据表"), list(TABLES), index=list(TABLES).index(plan.table),
                                  key=f"data_table_{index}")
        headers = [""] + list(plan.mapping.values()) + list(plan.unmapped_headers)
        editor = pd.DataFrame({
            "column": list(TABLES[table].column_names),
            "required": [c.required for c in TABLES[table].columns],
            "header": [plan.mapping.get(c, "") if table == plan.table else "" for c in TABLES[table].column_names],
        })
        edited = st.data_editor(
            editor, key=f"data_mapping_{index}_{table}", hide_index=True, width="stretch",
            disabled=["column", "required"],
            column_config={"header": st.column_config.SelectboxColumn(pick("Header in the file", "文件中的列名"),
                                                                      options=headers)},
        )
        columns = {row.column: row.header for row in edited.itertuples() if row.header}
        changed = table != plan.table or columns != plan.mapping
        mapping = Mapping(table=table, columns=columns, source=f"{plan.source} (edited)") if changed else None
        if st.button(pick("Save this mapping for the next upload", "保存此映射供下次上传使用"),
                     key=f"data_save_map_{index}", icon=":material/save:"):
            MAPPING_DIR.mkdir(parents=True, exist_ok=True)
            save_mapping_file(MAPPING_DIR / f"{table}.toml", table, columns)
            st.success(pick(f"Saved to {MAPPING_DIR.name}/{table}.toml", f"已保存到 {MAPPING_DIR.name}/{table}.toml"))
        try:
            rejects = preview_rejects(_replan(plan, mapping) if mapping else plan, cfg, context.store())
        except B2BError as exc:
            st.error(str(exc))
            return table, mapping
        if rejects:
            st.warning(pick(f"{len(rejects)} rows would be rejected", f"{len(rejects)} 行将被拒绝"))
            st.dataframe(pd.DataFrame([r.__dict__ for r in rejects]), hide_index=True, width="stretch")
        else:
            st.success(pick("Every row is valid.", "所有行均有效。"))
    return table, mapping


def _replan(plan: FilePlan, mapping: Mapping) -> FilePlan:
    """The plan of a file under the user's edited mapping (a workbook's sheets keep their own plans)."""
    if plan.sheet is not None:
        return plan
    return plan_files([plan.path], context.config(), table=mapping.table, mapping=mapping)[0]


def render_upload() -> None:
    st.subheader(pick("Load CRM exports", "加载 CRM 导出文件"))
    files = st.file_uploader(pick("CSV, XLSX or Parquet files", "CSV、XLSX 或 Parquet 文件"), type=UPLOAD_TYPES,
                             accept_multiple_files=True, key="data_uploader")
    if not files:
        return
    paths = store_uploads(files)
    cfg = context.config()
    try:
        plans = plan_files(paths, cfg)
    except B2BError as exc:
        st.error(str(exc))
        return
    settled = []
    for i, plan in enumerate(plans):
        saved = saved_mapping(plan.table)
        if saved is not None and plan.sheet is None:
            try:
                plan = plan_files([plan.path], cfg, table=plan.table, mapping=saved)[0]
            except B2BError:
                pass  # the saved mapping does not fit this file: keep the automatic one
        settled.append((plan, *render_plan(plan, i)))
    left, right = st.columns(2)
    allow = left.toggle(pick("Load valid rows, keep rejects aside", "加载有效行，拒绝行另存"), key="data_allow")
    append = right.toggle(pick("Append (upsert by id) instead of replace", "追加（按编号更新）而非替换"),
                          key="data_append")
    if st.button(pick("Load", "加载"), type="primary", key="data_load", icon=":material/upload:"):
        run_load(settled, allow, append)


def run_load(settled: list[tuple[FilePlan, str, Mapping | None]], allow: bool, append: bool) -> None:
    bar = st.progress(0.0, text=pick("Loading …", "正在加载 …"))
    results = []
    try:
        # one atomic load when nothing was overridden; per file when a file has its own mapping
        if all(m is None and tbl == p.table for p, tbl, m in settled):
            paths = list(dict.fromkeys(p.path for p, _, _ in settled))
            results = ingest(context.store(), paths, context.config(), allow_rejects=allow, append=append,
                             progress=lambda label, f: bar.progress(min(max(f, 0.0), 1.0), text=label))
        else:
            for n, (plan, tbl, mapping) in enumerate(settled):
                results += ingest(context.store(), [plan.path], context.config(), table=tbl, mapping=mapping,
                                  allow_rejects=allow, append=append)
                bar.progress((n + 1) / len(settled), text=plan.source)
    except B2BError as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.progress(1.0, text=pick("Done", "完成"))
    for r in results:
        note = pick("unchanged (already loaded)", "未变化（已加载过）") if r.skipped else \
            pick(f"{r.rows:,} rows loaded, {r.rejected:,} rejected", f"已加载 {r.rows:,} 行，拒绝 {r.rejected:,} 行")
        st.success(f"{r.table} ← {r.source}: {note}")


def whole_table_csv(table: str) -> bytes:
    con = context.store().read_connection()
    try:
        return table_csv(con, table)
    finally:
        con.close()


def render_quality() -> None:
    st.subheader(pick("Data quality", "数据质量"))
    summary = data.table_counts()["tables"]
    frame = pd.DataFrame([{"table_name": name, **vals} for name, vals in summary.items()])
    show_table(frame, "data_quality", "data_quality", extra_config={
        "completeness": st.column_config.ProgressColumn(pick("Completeness", "完整度"), min_value=0.0, max_value=1.0,
                                                        format="percent")})
    table = st.selectbox(pick("Columns of table", "查看数据表的列"), list(TABLES), key="data_quality_table")
    columns = data.query(f"quality.columns.{table}", lambda con: quality.columns(con, table))
    show_table(columns, f"columns_{table}", "data_columns", extra_config={
        "completeness": st.column_config.ProgressColumn(pick("Completeness", "完整度"), min_value=0.0, max_value=1.0,
                                                        format="percent")})
    st.download_button(pick(f"Download table {table} (CSV)", f"下载数据表 {table}（CSV）"),
                       lambda: whole_table_csv(table), file_name=f"{table}.csv",
                       mime="text/csv", key="data_download_table", icon=":material/download:", on_click="ignore")
    rejects = data.query("quality.last_rejects", quality.last_rejects)
    if rejects is not None and len(rejects):
        st.markdown(pick("**Rejected rows of the last load per table**", "**各表最近一次加载的拒绝行**"))
        show_table(rejects, "last_rejects", "data_rejects")


def render_history() -> None:
    st.subheader(pick("Load history", "加载历史"))
    history = data.query("quality.load_history", quality.load_history)
    if history is None or not len(history):
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
