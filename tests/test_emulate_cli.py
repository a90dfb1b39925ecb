"""``closedloop emulate`` serves each vendor API to official clients in another process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce
from urllib3.util.retry import Retry

from closedloop.connectors.salesforce.transport import SalesforceHTTP

CLI = Path(sys.executable).with_name("closedloop")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def emulator_process(*args: str) -> Iterator[str]:
    """Start ``closedloop emulate ...`` and yield its base URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [str(CLI), "emulate", *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{url}/__emulator__/stats", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"emulator did not start: {proc.stderr}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_hubspot_emulator_process_answers_the_official_client() -> None:
    with emulator_process("hubspot", "--token", "pat-cli-test") as url:
        hs = HubSpot(access_token="pat-cli-test", host=url, retry=Retry(total=0))
        created = hs.crm.contacts.basic_api.create({"properties": {"email": "cli@example.com"}})
        assert created is not None
        fetched = hs.crm.contacts.basic_api.get_by_id(created.id, properties=["email"])
        assert fetched.properties["email"] == "cli@example.com"
        stats = requests.get(f"{url}/__emulator__/stats", timeout=5).json()
        assert stats["by_route"]["POST /crm/v3/objects/contacts"] == 1


def test_salesforce_emulator_process_answers_the_official_client() -> None:
    with emulator_process("salesforce", "--client-id", "cid", "--client-secret", "cs") as url:
        http = SalesforceHTTP(emulator_url=url)
        token = http.post(
            "https://login.example.com/services/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "cid", "client_secret": "cs"},
        ).json()
        sf = Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            session=http,
            version="59.0",
        )
        lead = sf.Lead.create({"LastName": "Cli", "Company": "Acme"})
        assert sf.query(f"SELECT Id FROM Lead WHERE Id = '{lead['id']}'")["totalSize"] == 1


def test_check_and_provision_against_an_emulator(tmp_path: Path) -> None:
    with emulator_process("hubspot", "--token", "pat-cli") as url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLOSEDLOOP")},
            "CLOSEDLOOP__HUBSPOT__BASE_URL": url,
            "CLOSEDLOOP__HUBSPOT__ACCESS_TOKEN": "pat-cli",
            "CLOSEDLOOP__ROLES__CRM": "hubspot",
            "XDG_CONFIG_HOME": str(tmp_path),
        }

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(CLI), *args],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=60,
                check=False,
            )

        before = run("check")
        assert before.returncode == 1
        assert "closedloop provision" in before.stdout
        plan = run("provision", "--dry-run", "--json")
        assert plan.returncode == 0, plan.stderr
        assert json.loads(plan.stdout)["to_create"] > 0
        assert json.loads(run("provision", "--json").stdout)["created"] > 0
        assert json.loads(run("provision", "--json").stdout)["created"] == 0
        after = run("check", "--json")
        assert after.returncode == 0, after.stdout
        assert json.loads(after.stdout)["ok"] is True
        assert "pat-cli" not in before.stdout + before.stderr + after.stdout + after.stderr


def test_sync_status_and_explain_on_the_emulators(tmp_path: Path) -> None:
    with (
        emulator_process("hubspot", "--token", "pat-sync") as hs,
        emulator_process("salesforce") as sf,
    ):
        requests.post(
            f"{hs}/__emulator__/seed",
            json={"contacts": 40, "companies": 4, "deals": 0, "seed": 9},
            timeout=60,
        ).raise_for_status()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLOSEDLOOP")},
            "CLOSEDLOOP__HUBSPOT__BASE_URL": hs,
            "CLOSEDLOOP__HUBSPOT__ACCESS_TOKEN": "pat-sync",
            "CLOSEDLOOP__SALESFORCE__INSTANCE_URL": sf,
            "CLOSEDLOOP__SALESFORCE__LOGIN_URL": sf,
            "CLOSEDLOOP__SALESFORCE__CLIENT_ID": "emulator-client-id",
            "CLOSEDLOOP__SALESFORCE__CLIENT_SECRET": "emulator-client-secret",
            "CLOSEDLOOP__DATABASE__URL": f"sqlite:///{tmp_path / 'cl.db'}",
            "XDG_CONFIG_HOME": str(tmp_path),
        }

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(CLI), *args],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=300,
                check=False,
            )

        assert run("provision").returncode == 0
        refused = run("sync", "--dry-run")
        assert refused.returncode == 1
        assert "blast radius" in refused.stderr
        plan = run("sync", "--dry-run", "--allow-blast-radius", "--format", "json")
        assert plan.returncode == 0, plan.stderr
        planned = json.loads(plan.stdout)
        assert planned["dry_run"] is True
        assert planned["counts"]["changed"] == 80  # 40 stamped contacts + 40 new leads
        done = run("sync", "--allow-blast-radius", "--format", "json")
        assert json.loads(done.stdout)["counts"]["written"] == 80
        again = json.loads(run("sync", "--format", "json").stdout)
        assert again["counts"]["changed"] == 0
        status = json.loads(run("status", "--format", "json").stdout)
        assert status["runs"]["incremental"]["status"] == "ok"
        assert status["dead_letters"] == 0
        email = planned["records"][0]["fields"].get("email", {}).get("to")
        who = email or f"hubspot:{planned['records'][0]['record_id']}"
        explained = run("explain", who, "--format", "json")
        assert explained.returncode == 0, explained.stderr
        story = json.loads(explained.stdout)
        assert story["touches"]
        assert any(d["outcome"] == "written" for d in story["decisions"])
