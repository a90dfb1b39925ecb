"""``closedloop attribute`` through click's test runner (the command is not registered yet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from closedloop.cli.attribute_command import attribute

HEADER = "path,total_conversions,total_conversion_value,total_null\n"
WORKED = ["A", "A > B", "A > B > C", "B", "B > A", "B > C > A", "C", "C > A", "C > B > A"]


@pytest.fixture
def worked(tmp_path: Path) -> Path:
    file = tmp_path / "paths.csv"
    file.write_text(HEADER + "".join(f"{p},1,3,2\n" for p in WORKED), encoding="utf-8")
    return file


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(attribute, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("model", "values"),
    [
        ("first_touch", {"A": 9.0, "B": 9.0, "C": 9.0}),
        ("last_touch", {"A": 15.0, "B": 6.0, "C": 6.0}),
        ("linear", {"A": 10.5, "B": 9.0, "C": 7.5}),
        ("u_shaped", {"A": 11.1, "B": 8.4, "C": 7.5}),
    ],
)
def test_json_is_one_line_with_the_worked_credits(
    worked: Path, model: str, values: dict[str, float]
) -> None:
    code, out, err = run("--paths", str(worked), "--model", model, "--format", "json")
    assert code == 0, err
    assert out.endswith("\n")
    assert out.count("\n") == 1
    payload = json.loads(out)
    assert payload["model"] == model
    assert {name: c["value"] for name, c in payload["channels"].items()} == values
    assert sum(c["conversions"] for c in payload["channels"].values()) == pytest.approx(9)
    assert list(payload["channels"]) == sorted(values, key=lambda n: (-values[n], n))


def test_markov_json_sums_to_the_file_totals(worked: Path) -> None:
    code, out, _ = run("--paths", str(worked), "--model", "markov", "--format", "json")
    assert code == 0
    channels = json.loads(out)["channels"]
    assert set(channels) == {"A", "B", "C"}
    assert sum(c["conversions"] for c in channels.values()) == pytest.approx(9, rel=1e-12)
    assert sum(c["value"] for c in channels.values()) == pytest.approx(27, rel=1e-12)
    assert all(c["value"] > 0 for c in channels.values())


def test_table_is_sorted_by_value_with_shares(worked: Path) -> None:
    code, out, _ = run("--paths", str(worked), "--model", "last_touch")
    assert code == 0
    assert "last_touch" in out
    lines = [line for line in out.splitlines() if line.strip("│ ").startswith(("A ", "B ", "C "))]
    assert [line.strip("│ ")[0] for line in lines] == ["A", "B", "C"]
    assert "55.6 %" in out  # A: 15 of 27
    assert "22.2 %" in out
    assert "Total" in out
    assert "27.00" in out


def test_table_without_value_shares_conversions(tmp_path: Path) -> None:
    file = tmp_path / "counts.csv"
    file.write_text(HEADER + "X > Y,4,0,1\n", encoding="utf-8")
    code, out, _ = run("--paths", str(file), "--model", "linear", "--format", "table")
    assert code == 0
    assert "Share of conversions" in out
    assert "50.0 %" in out


@pytest.mark.parametrize(
    ("body", "model", "fragments"),
    [
        ("path,total_conversions\nA,1\n", "linear", ["missing column total_conversion_value"]),
        (HEADER + "A,1,1,0\nB,1,lots,0\n", "u_shaped", ["row 2", "line 3", "'lots'"]),
        (HEADER + "A,1,1,0\n,1,1,0\n", "first_touch", ["row 2", "the path is empty"]),
        ("path,total_conversions,total_conversion_value\nA,1,1\n", "markov", ["total_null"]),
    ],
)
def test_bad_input_exits_2_naming_file_and_row(
    tmp_path: Path, body: str, model: str, fragments: list[str]
) -> None:
    file = tmp_path / "broken.csv"
    file.write_text(body, encoding="utf-8")
    code, out, err = run("--paths", str(file), "--model", model, "--format", "json")
    assert code == 2
    assert out == ""
    assert "broken.csv" in err
    for fragment in fragments:
        assert fragment in err
    assert "Traceback" not in err


def test_unknown_model_and_missing_file_are_usage_errors(worked: Path, tmp_path: Path) -> None:
    code, _, err = run("--paths", str(worked), "--model", "shapley")
    assert code == 2
    assert "shapley" in err
    code, _, err = run("--paths", str(tmp_path / "nope.csv"), "--model", "linear")
    assert code == 2
    assert "nope.csv" in err
