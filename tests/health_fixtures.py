"""The accounts of the health-score backtest (tests/test_health_backtest.py works out its numbers;
tests/test_accounts.py shows them on the Accounts page): five accounts A–E, as of 2024-06-30."""

from __future__ import annotations

import datetime as dt
from typing import Any

D, T = dt.date, dt.datetime


def k(cid: str, acc: str, start: dt.date, end: dt.date | None, mrr: float = 10.0) -> dict[str, Any]:
    return {"contract_id": cid, "account_id": acc, "start_date": start, "end_date": end, "mrr": mrr}


def backtest_rows() -> dict[str, list[dict[str, Any]]]:
    start = D(2024, 1, 1)
    acts = [{"activity_id": f"Y{m}", "account_id": "A", "occurred_at": T(2024, m, 20)} for m in range(1, 7)]
    acts.append({"activity_id": "Y-last", "account_id": "A", "occurred_at": T(2024, 6, 30)})
    return {
        "accounts": [{"account_id": a, "account_name": a} for a in "ABCDE"],
        "contracts": [k("CA", "A", start, None), k("CB", "B", start, D(2024, 3, 15)),
                      k("CC", "C", start, D(2024, 5, 15)), k("CD", "D", start, None),
                      k("CE", "E", start, D(2024, 2, 10))],
        "activities": acts,
        "surveys": [{"response_id": f"S{a}", "account_id": a, "submitted_at": T(2024, 1, 10), "kind": "nps",
                     "score": 3.0} for a in "DE"],
        "tickets": [
            *({"ticket_id": f"TE{i}", "account_id": "E", "opened_at": T(2024, 1, 5, 9)} for i in range(4)),
            {"ticket_id": "TC", "account_id": "C", "opened_at": T(2024, 2, 1, 9),
             "first_response_at": T(2024, 2, 3, 9), "resolved_at": T(2024, 2, 3, 10)},
        ],
        "payments": [
            {"payment_id": "PB", "account_id": "B", "due_date": D(2024, 2, 20), "amount_due": 100.0,
             "paid_at": T(2024, 3, 5), "amount_paid": 100.0},
            {"payment_id": "PD", "account_id": "D", "due_date": D(2024, 1, 15), "amount_due": 50.0},
        ],
    }
