"""b2bmetrics: funnel, churn, satisfaction and commission metrics for B2B teams.

The library never imports streamlit: the CLI and the dashboard both call into it.
"""

from __future__ import annotations

__version__ = "0.1.0"
