"""Lifecycle progress for seeded contacts: some leads become MQLs, some MQLs become SQLs.

HubSpot moves ``lifecyclestage`` forward (a lead scoring workflow marks MQLs, a sales rep
accepts SQLs) and stamps ``hs_lifecyclestage_<stage>_date`` on entering each stage, so a seeded
contact that progressed shows both its stage history and its dates, each after the previous
stage's date and never in the future. The shares are typical B2B funnel figures: about a third
of leads become marketing qualified and about 40 % of those sales qualified; contacts with more
touches qualify a little more often.

The seed draws these from their own random stream, so adding lifecycle progress leaves every
other seeded value (contacts, touches, deals) exactly as it was for the same seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from closedloop.emulators.hubspot.store import Record, WriteSource
from closedloop.emulators.hubspot.values import iso_from_ms

__all__ = ["MQL_SHARE", "SQL_SHARE", "advance_lifecycle"]

DAY_MS = 86_400_000
MQL_SHARE = 0.30
"""Share of one-touch leads that become MQLs (each further touch adds 5 points)."""
SQL_SHARE = 0.40
"""Share of MQLs that become SQLs."""
SCORING = WriteSource("AUTOMATION_PLATFORM", "workflow:lead-scoring", "Lead scoring", "AUTOMATION")
SALES = WriteSource("CRM_UI", "userId:1001", "Sales rep", "CRM_UI")
Setter = Callable[[Record, dict[str, str], int, WriteSource], None]


def advance_lifecycle(
    record: Record, rng: random.Random, *, lead_ms: int, touches: int, now_ms: int, write: Setter
) -> None:
    """Maybe move a new lead on to MQL, then SQL, through ``write`` (history and all)."""
    if rng.random() >= MQL_SHARE + 0.05 * max(touches - 1, 0):
        return
    mql_ms = lead_ms + rng.randint(1, 21) * DAY_MS + rng.randint(0, DAY_MS)
    if mql_ms >= now_ms - 60_000:
        return  # it would qualify in the future: still a lead today
    write(
        record,
        {
            "lifecyclestage": "marketingqualifiedlead",
            "hs_lifecyclestage_marketingqualifiedlead_date": iso_from_ms(mql_ms),
        },
        mql_ms,
        SCORING,
    )
    if rng.random() >= SQL_SHARE:
        return
    sql_ms = mql_ms + rng.randint(1, 14) * DAY_MS + rng.randint(0, DAY_MS)
    if sql_ms >= now_ms - 60_000:
        return
    write(
        record,
        {
            "lifecyclestage": "salesqualifiedlead",
            "hs_lifecyclestage_salesqualifiedlead_date": iso_from_ms(sql_ms),
        },
        sql_ms,
        SALES,
    )
