"""collect.js run by Node in a minimal fake browser (tests/collector/collect_harness.js)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import Engine

from closedloop.config.schema import CollectorSettings
from closedloop.sync.identity import IdentityStore, visitor_ref
from closedloop.sync.ledger import TouchLedger
from closedloop.webhooks.collector import collector_script

HARNESS = Path(__file__).with_name("collect_harness.js")
NODE = shutil.which("node")
AD_URL = "https://www.example.com/pricing?utm_source=google&utm_medium=cpc&gclid=Cj0KCQ"
VISITOR = "0f8fad5b-d9cb-469f-a165-70867728950e"
FIELDS = [
    "cl_visitor_id", "cl_first_utm_source", "cl_last_utm_source", "cl_first_gclid",
    "cl_last_landing_page", "cl_first_referrer", "cl_last_touch_at", "cl_unknown",
]  # fmt: skip

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (.ci/run installs it)")


def run(tmp_path: Path, settings: CollectorSettings | None = None, **scenario: Any) -> Any:
    script = tmp_path / "collect.js"
    script.write_text(collector_script(settings or CollectorSettings()), encoding="utf-8")
    result = subprocess.run(
        [str(NODE), str(HARNESS), str(script)],
        input=json.dumps(scenario),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cookie_of(touches: dict[str, Any]) -> str:
    return "cl_touch=" + json.dumps(touches, separators=(",", ":")).replace(" ", "%20")


def earlier_visit(**last: str) -> str:
    first = {"touch_at": "2026-02-01T08:00:00.000Z", "landing_page": "https://www.example.com/",
             "referrer": "https://www.bing.com/", "utm_source": "bing"}  # fmt: skip
    return cookie_of({"v": VISITOR, "f": first, "l": last or first})


def test_a_first_visit_sets_the_cookie_and_posts_the_touch(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        CollectorSettings(cookie_days=30),
        href=AD_URL + "&email=jane%40example.com#top",
        referrer="https://www.google.com/search?q=crm",
        src="https://cl.example.net/tracking/collect.js?v=2",
    )
    [write] = out["cookieWrites"]
    assert "; Path=/; Max-Age=2592000; SameSite=Lax; Secure" in write
    cookie = out["cookie"]
    assert cookie["f"] == cookie["l"]
    assert cookie["f"]["utm_source"] == "google"
    assert cookie["f"]["gclid"] == "Cj0KCQ"
    assert cookie["f"]["landing_page"] == "https://www.example.com/pricing"
    assert cookie["f"]["referrer"] == "https://www.google.com/search"
    assert "jane" not in unquote(write)
    [post] = out["posts"]
    assert post["via"] == "beacon"
    assert post["url"] == "https://cl.example.net/tracking/collect"
    body = post["body"]
    assert body["type"] == "pageview"
    assert body["visitor_id"] == cookie["v"]
    assert body["touch"]["url"] == AD_URL
    assert body["touch"]["referrer"] == "https://www.google.com/search?q=crm"
    assert body["touch"]["occurred_at"] == "2026-03-01T09:00:00.000Z"
    assert "consent" not in body


def test_a_new_campaign_replaces_the_last_touch_and_keeps_the_first(tmp_path: Path) -> None:
    out = run(tmp_path, href=AD_URL, cookie=earlier_visit(), referrer="https://www.google.com/")
    cookie = out["cookie"]
    assert cookie["v"] == VISITOR
    assert cookie["f"]["utm_source"] == "bing"
    assert cookie["l"]["utm_source"] == "google"
    assert out["posts"][0]["body"]["visitor_id"] == VISITOR


def test_internal_navigation_is_not_a_new_touch(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        href="https://example.com/features",
        referrer="https://www.example.com/pricing",
        cookie=earlier_visit(),
    )
    assert out["posts"] == []
    assert out["cookie"]["l"]["utm_source"] == "bing"


def test_plain_http_pages_get_no_secure_attribute(tmp_path: Path) -> None:
    out = run(tmp_path, href="http://www.example.com/")
    assert "Secure" not in out["cookieWrites"][0]


def test_hidden_fields_are_filled_from_the_cookie(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        href=AD_URL,
        cookie=earlier_visit(),
        inputs=[{"name": name, "value": "keep"} for name in FIELDS],
    )
    assert out["inputs"] == {
        "cl_visitor_id": VISITOR,
        "cl_first_utm_source": "bing",
        "cl_last_utm_source": "google",
        "cl_first_gclid": "",
        "cl_last_landing_page": "https://www.example.com/pricing",
        "cl_first_referrer": "https://www.bing.com/",
        "cl_last_touch_at": "2026-03-01T09:00:00.000Z",
        "cl_unknown": "keep",
    }


def test_a_form_submit_posts_the_email_with_first_and_last_touch(tmp_path: Path) -> None:
    inputs = [{"name": "work_email", "type": "email", "value": " jane@example.com "}]
    out = run(tmp_path, href=AD_URL, cookie=earlier_visit(), inputs=inputs, submit=True)
    form = out["posts"][-1]["body"]
    assert form["type"] == "form"
    assert form["email"] == "jane@example.com"
    assert [t["utm_source"] for t in form["touches"]] == ["bing", "google"]
    assert form["touches"][0]["occurred_at"] == "2026-02-01T08:00:00.000Z"


def test_global_privacy_control_stops_everything(tmp_path: Path) -> None:
    inputs = [{"name": "cl_visitor_id", "value": ""}]
    out = run(tmp_path, href=AD_URL, gpc=True, inputs=inputs, submit=True)
    assert out["cookieWrites"] == []
    assert out["posts"] == []
    assert out["inputs"] == {"cl_visitor_id": ""}
    ignored = run(tmp_path, CollectorSettings(honour_gpc=False), href=AD_URL, gpc=True)
    assert len(ignored["posts"]) == 1


@pytest.mark.parametrize(
    ("scenario", "posted"),
    [
        ({"consent": False}, False),
        ({"consentFunction": False}, False),
        ({"consentFunction": {"analytics": False}}, False),
        ({"consentThrows": True}, False),
        ({"consent": True}, True),
        ({"consentFunction": {"analytics": True}}, True),
    ],
)
def test_the_consent_hook_decides(tmp_path: Path, scenario: dict[str, Any], posted: bool) -> None:
    out = run(tmp_path, href=AD_URL, **scenario)
    assert bool(out["posts"]) is posted
    assert bool(out["cookieWrites"]) is posted
    if posted:
        sent = out["posts"][0]["body"]["consent"]
        assert sent == scenario.get("consent", scenario.get("consentFunction"))


def test_fetch_with_keepalive_when_there_is_no_beacon(tmp_path: Path) -> None:
    out = run(tmp_path, href=AD_URL, beacon=False)
    [post] = out["posts"]
    assert post["via"] == "fetch"
    assert post["init"] == {"method": "POST", "keepalive": True}


def test_what_the_script_posts_is_accepted_by_the_collector(
    tmp_path: Path, serve: Callable[..., Any], store: Engine
) -> None:
    collector = serve(store)
    out = run(
        tmp_path,
        href=AD_URL,
        referrer="https://www.google.com/",
        cookie=earlier_visit(),
        inputs=[{"name": "email", "type": "email", "value": "jane@example.com"}],
        submit=True,
    )
    for post in out["posts"]:
        answer = collector.post(post["body"], headers={"Content-Type": "text/plain"})
        assert answer.status_code == 202, answer.text
    identity = IdentityStore(store)
    person = identity.person_of(visitor_ref(VISITOR))
    assert person is not None
    assert identity.person(person).email == "jane@example.com"
    touches = TouchLedger(store).touches_of(person)
    assert [(t.utm_source, t.channel) for t in touches] == [
        ("bing", "Organic Search"),
        ("google", "Paid Search"),
    ]
