"""``closedloop serve`` as a real process: it answers health checks and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml
from webhook_support import free_port

from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer

CLI = Path(sys.executable).with_name("closedloop")


def _wait_for(url: str, deadline_s: float = 60.0) -> requests.Response:
    stop = time.monotonic() + deadline_s
    while True:
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            if time.monotonic() > stop:
                raise
            time.sleep(0.1)


def test_serve_answers_health_checks_and_exits_0_on_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    hubspot_app = hubspot_emulator(token="serve-token")
    salesforce_app = salesforce_emulator(outbound_background=False)
    with RunningServer(hubspot_app.app) as hs, RunningServer(salesforce_app.app) as sf:
        port = free_port()
        config = tmp_path / "closedloop.yaml"
        document = {
            "database": {"url": database_url},
            "hubspot": {"base_url": hs.url, "access_token": "serve-token"},
            "salesforce": {
                "instance_url": sf.url,
                "login_url": sf.url,
                "client_id": "emulator-client-id",
                "client_secret": "emulator-client-secret",
            },
            "server": {"host": "127.0.0.1", "port": port},
        }
        config.write_text(yaml.safe_dump(document), "utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDLOOP")}
        env["CLOSEDLOOP_DATA_DIR"] = str(tmp_path / "data")
        process = subprocess.Popen(
            [str(CLI), "serve", "--config", str(config), "--threads", "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            health = _wait_for(f"http://127.0.0.1:{port}/healthz")
            assert health.status_code == 200
            ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            assert "closedloop_store_up 1" in metrics.text
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 0, stderr
        assert f"closedloop serving on http://127.0.0.1:{port}" in stderr
        assert "closedloop stopped" in stderr
    hubspot_app.close()
    salesforce_app.close()
