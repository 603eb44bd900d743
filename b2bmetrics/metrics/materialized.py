"""The relations the metrics want the store to keep beside the data: one list for every writer.

Each relation is declared by the module that reads it (the funnel's deal facts and stage visits,
the quality counts, the data's date range, the commission facts); `Store.write(relations=RELATIONS)` keeps exactly
these. Ingest, the demo and the tests all pass this list, so what a database holds never depends
on who wrote it.
"""

from __future__ import annotations

from b2bmetrics.filters import DATE_RANGE
from b2bmetrics.metrics.commission.facts import COMMISSION_FACTS
from b2bmetrics.metrics.funnel import DEAL_FACTS, STAGE_VISITS
from b2bmetrics.metrics.quality import QUALITY_COUNTS
from b2bmetrics.store.materialize import Relation

RELATIONS: tuple[Relation, ...] = (QUALITY_COUNTS, DATE_RANGE, DEAL_FACTS, STAGE_VISITS, COMMISSION_FACTS)
