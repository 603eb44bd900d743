"""Rows the page tests share (not a test module: test modules never import each other).

`fixture_rows()` is the two-region dataset of tests/test_pages.py; tests/test_access.py extends it,
tests/test_data_page.py and tests/test_warmup.py serve it.
"""

from __future__ import annotations

import datetime as dt

D = dt.datetime


def fixture_rows() -> dict[str, list[dict[str, object]]]:
    """Two regions. 东区: a won deal of 100 and a lost one; 西区: a won deal of 300 and an open one.

    Whole data: win rate = won / (won + lost) = 2 / 3 = 66.7 %; won revenue = 100 + 300 = ¥400.
    Region 东区 only: win rate = 1 / 2 = 50.0 %; won revenue = ¥100.
    """
    return {
        "reps": [{"rep_id": "R1", "rep_name": "王伟", "region": "东区", "role": "sales"},
                 {"rep_id": "R2", "rep_name": "李娜", "region": "西区", "role": "sales"}],
        "accounts": [{"account_id": "A1", "account_name": "甲公司", "region": "东区", "segment": "大型企业",
                      "owner_rep_id": "R1", "created_at": D(2024, 1, 2)},
                     {"account_id": "A2", "account_name": "乙公司", "region": "西区", "segment": "小型企业",
                      "owner_rep_id": "R2", "created_at": D(2024, 1, 3)}],
        "deals": [
            {"deal_id": "D1", "stage": "won", "status": "won", "account_id": "A1", "owner_rep_id": "R1",
             "amount": 100.0, "created_at": D(2024, 1, 10), "closed_at": D(2024, 2, 9)},
            {"deal_id": "D2", "stage": "lost", "status": "lost", "account_id": "A1", "owner_rep_id": "R1",
             "amount": 50.0, "created_at": D(2024, 1, 11), "closed_at": D(2024, 2, 1)},
            {"deal_id": "D3", "stage": "won", "status": "won", "account_id": "A2", "owner_rep_id": "R2",
             "amount": 300.0, "created_at": D(2024, 1, 12), "closed_at": D(2024, 3, 12)},
            {"deal_id": "D4", "stage": "proposal", "status": "open", "account_id": "A2", "owner_rep_id": "R2",
             "amount": 80.0, "created_at": D(2024, 2, 1)},
        ],
        "deal_stage_history": [
            {"deal_id": "D1", "stage": "lead", "entered_at": D(2024, 1, 10)},
            {"deal_id": "D1", "stage": "won", "entered_at": D(2024, 2, 9)},
            {"deal_id": "D3", "stage": "lead", "entered_at": D(2024, 1, 12)},
            {"deal_id": "D3", "stage": "proposal", "entered_at": D(2024, 2, 1)},
            {"deal_id": "D3", "stage": "won", "entered_at": D(2024, 3, 12)},
        ],
        "contracts": [{"contract_id": "C1", "account_id": "A1", "start_date": dt.date(2024, 2, 9), "mrr": 10.0},
                      {"contract_id": "C2", "account_id": "A2", "start_date": dt.date(2024, 3, 12), "mrr": 30.0}],
        "tickets": [{"ticket_id": "T1", "account_id": "A1", "opened_at": D(2024, 2, 10, 9),
                     "first_response_at": D(2024, 2, 10, 11), "channel": "wechat"}],
        "surveys": [{"response_id": "S1", "account_id": "A1", "submitted_at": D(2024, 2, 11), "kind": "csat",
                     "score": 5.0},
                    {"response_id": "S2", "account_id": "A2", "submitted_at": D(2024, 3, 13), "kind": "nps",
                     "score": 9.0}],
        "activities": [{"activity_id": "X1", "account_id": "A1", "occurred_at": D(2024, 2, 1), "kind": "visit",
                        "channel": "offline", "rep_id": "R1"}],
    }
