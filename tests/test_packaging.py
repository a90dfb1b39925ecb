"""The package list in pyproject.toml must match the package folders on disk."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
REQUIRED_ROOTS = {"connectors", "sync", "webhooks", "mappings", "config"}


def test_every_package_folder_is_declared() -> None:
    on_disk: set[str] = set()
    for dotted, folder in SETUPTOOLS["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join([dotted, *parts]))
    assert on_disk == set(SETUPTOOLS["packages"])


def test_required_root_folders_install_under_closedloop() -> None:
    declared = set(SETUPTOOLS["package-dir"].values())
    assert declared >= REQUIRED_ROOTS
    for dotted, folder in SETUPTOOLS["package-dir"].items():
        assert dotted == f"closedloop.{folder}"
        assert (ROOT / folder / "py.typed").is_file(), folder


def test_bare_root_names_do_not_import_from_outside_the_repository(tmp_path: Path) -> None:
    code = (
        "import importlib.util, sys\n"
        "import closedloop.sync, closedloop.connectors, closedloop.webhooks, "
        "closedloop.mappings, closedloop.config\n"
        f"bare = {sorted(SETUPTOOLS['package-dir'].values())!r}\n"
        "leaked = [b for b in bare if importlib.util.find_spec(b) is not None]\n"
        "sys.exit(f'bare packages importable: {leaked}' if leaked else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout
