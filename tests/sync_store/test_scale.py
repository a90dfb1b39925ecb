"""Scale: 200,000 touches across 50,000 people go into the ledger in one streamed call."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert

from closedloop.runtime.clock import ManualClock
from closedloop.store.schema import people
from closedloop.sync.ledger import TouchLedger
from closedloop.sync.touchpoints import Touchpoint

PEOPLE = 50_000
TOUCHES = 200_000


@pytest.mark.slow
def test_two_hundred_thousand_touches(
    database_url: str, engine: Engine, clock: ManualClock
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the scale check runs on the embedded store (SQLite)")
    ids = [uuid.uuid4().hex for _ in range(PEOPLE)]
    with engine.begin() as conn:
        conn.execute(insert(people), [{"person_id": p, "created_at": clock.now()} for p in ids])
    start = clock.now()

    def touches() -> object:
        for n in range(TOUCHES):
            yield (
                ids[n % PEOPLE],
                Touchpoint(
                    occurred_at=start + timedelta(minutes=n),
                    origin="collector",
                    utm_source="google",
                    utm_medium="cpc",
                    utm_campaign=f"campaign-{n % 40}",
                    click_ids={"gclid": f"g{n}"},
                    landing_page="https://example.com/pricing",
                    channel="Paid Search",
                ),
            )

    ledger = TouchLedger(engine, clock)
    assert ledger.add_many(touches()) == TOUCHES  # type: ignore[arg-type]
    assert ledger.count() == TOUCHES
    assert len(ledger.touches_of(ids[7])) == TOUCHES // PEOPLE
