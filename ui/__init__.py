"""Streamlit-side helpers shared by the pages: context, sidebar filters, texts, caching, downloads.

Only the dashboard imports this package; the library `b2bmetrics` never imports streamlit.
"""
