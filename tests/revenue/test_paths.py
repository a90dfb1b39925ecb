"""Path files: parsing, heuristic credits per the standard definitions, Markov, and totals."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closedloop.revenue.paths import (
    PATH_MODELS,
    PathFileError,
    PathRecord,
    attribute_paths,
    read_path_file,
)

HEADER = "path,total_conversions,total_conversion_value,total_null\n"
WORKED = ["A", "A > B", "A > B > C", "B", "B > A", "B > C > A", "C", "C > A", "C > B > A"]


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    file = tmp_path / "paths.csv"
    file.write_text(header + body, encoding="utf-8")
    return file


def worked_file(tmp_path: Path) -> Path:
    return write(tmp_path, "".join(f"{p},1,3,0\n" for p in WORKED))


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("first_touch", {"A": 9, "B": 9, "C": 9}),
        ("last_touch", {"A": 15, "B": 6, "C": 6}),
        ("linear", {"A": 10.5, "B": 9.0, "C": 7.5}),
        ("u_shaped", {"A": 11.1, "B": 8.4, "C": 7.5}),
    ],
)
def test_worked_example_from_a_path_file(
    tmp_path: Path, model: str, expected: dict[str, float]
) -> None:
    credits = attribute_paths(read_path_file(worked_file(tmp_path)), model)
    assert {name: c.value for name, c in credits.channels.items()} == expected
    assert {name: c.conversions * 3 for name, c in credits.channels.items()} == pytest.approx(
        expected, rel=1e-15
    )
    assert credits.total_conversions == 9
    assert credits.total_value == 27


def test_markov_from_a_path_file_matches_example_1(tmp_path: Path) -> None:
    body = "google_ads,2,200,1\nmailing,1,50,0\ngoogle_ads > mailing,1,150,0\n"
    credits = attribute_paths(read_path_file(write(tmp_path, body)), "markov")
    assert credits.channels["google_ads"].conversions == pytest.approx(2.4)
    assert credits.channels["mailing"].conversions == pytest.approx(1.6)
    assert credits.channels["google_ads"].value == pytest.approx(400 * 0.6)
    assert credits.channels["mailing"].value == pytest.approx(400 * 0.4)


def test_channel_names_are_verbatim_and_order_free(tmp_path: Path) -> None:
    body = '"Paid Search, brand > Email",2,10.5,1\n"  email > (direct) ",1,1,0\nEmail,0,0,4\n'
    records = read_path_file(write(tmp_path, body))
    assert [r.channels for r in records] == [
        ("Paid Search, brand", "Email"),
        ("email", "(direct)"),
        ("Email",),
    ]
    assert records[0].value == Fraction(21, 2)
    credits = attribute_paths(records, "linear")
    assert set(credits.channels) == {"Paid Search, brand", "Email", "email", "(direct)"}


def test_columns_may_come_in_any_order_with_extras_and_a_bom(tmp_path: Path) -> None:
    file = tmp_path / "export.csv"
    file.write_text(
        "\ufeffextra,total_null,path,total_conversion_value,total_conversions\nx,3,A > B,8,2\n",
        encoding="utf-8",
    )
    assert read_path_file(file) == [PathRecord(("A", "B"), Fraction(2), Fraction(8), Fraction(3))]


def test_total_null_is_optional_unless_required(tmp_path: Path) -> None:
    file = write(tmp_path, "A,1,1\n", header="path,total_conversions,total_conversion_value\n")
    assert read_path_file(file)[0].nulls == 0
    with pytest.raises(PathFileError, match="missing column total_null"):
        read_path_file(file, require_nulls=True)


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        ("path,total_conversions\n", "A,1\n", "missing column total_conversion_value"),
        ("", "", "missing column path, total_conversions"),
        (HEADER, "A,1,1,0\nB,one,1,0\n", r"row 2 \(line 3\): total_conversions 'one' is not"),
        (HEADER, "A,1,,0\n", "row 1 .*total_conversion_value '' is not a number"),
        (HEADER, "A,1,1,0\n,1,1,0\n", r"row 2 \(line 3\): the path is empty"),
        (HEADER, "A >  > B,1,1,0\n", "row 1 .*has an empty touch"),
        (HEADER, "A,-1,1,0\n", "row 1 .*>= 0"),
        (HEADER, "A,1,inf,0\n", "row 1 .*finite"),
        (HEADER, "A,1,1\n", "row 1 .*total_null '' is not a number"),
    ],
)
def test_bad_input_names_the_file_and_row(
    tmp_path: Path, header: str, body: str, message: str
) -> None:
    file = write(tmp_path, body, header=header)
    with pytest.raises(PathFileError, match=message) as caught:
        read_path_file(file)
    assert str(file) in str(caught.value)
    assert caught.value.exit_code == 2


def test_undecodable_file(tmp_path: Path) -> None:
    file = tmp_path / "paths.csv"
    file.write_bytes(b"path,total_conversions,total_conversion_value\n\xff\xfe,1,1\n")
    with pytest.raises(PathFileError, match="cannot read it"):
        read_path_file(file)


def test_unknown_model() -> None:
    with pytest.raises(ValueError, match="unknown path model"):
        attribute_paths([], "w_shaped")


# --- the standard definitions, written naively in floats, as the libraries do ---


def naive(rows: list[tuple[list[str], int, float]], model: str) -> dict[str, tuple[float, float]]:
    credit: dict[str, list[float]] = {}
    for channels, conversions, value in rows:
        n = len(channels)
        if model == "first_touch":
            weights = [1.0] + [0.0] * (n - 1)
        elif model == "last_touch":
            weights = [0.0] * (n - 1) + [1.0]
        elif model == "linear":
            weights = [1 / n] * n
        elif n == 1:
            weights = [1.0]
        elif n == 2:
            weights = [0.5, 0.5]
        else:
            weights = [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]
        for channel, weight in zip(channels, weights, strict=True):
            pair = credit.setdefault(channel, [0.0, 0.0])
            pair[0] += weight * conversions
            pair[1] += weight * value
    return {channel: (pair[0], pair[1]) for channel, pair in credit.items()}


path_rows = st.lists(
    st.tuples(
        st.lists(
            st.sampled_from(["Email", "Direct", "Paid Search", "Social"]), min_size=1, max_size=7
        ),
        st.integers(min_value=0, max_value=500),
        st.decimals(min_value=0, max_value=10**6, places=2).map(float),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=path_rows)
def test_heuristics_match_the_standard_definitions_and_totals(
    tmp_path: Path, rows: list[tuple[list[str], int, float]]
) -> None:
    file = tmp_path / "random.csv"
    with file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "total_conversions", "total_conversion_value", "total_null"])
        for index, (channels, conversions, value) in enumerate(rows):
            writer.writerow([" > ".join(channels), conversions, f"{value:.2f}", index % 3])
    records = read_path_file(file)
    total_conversions = sum(conversions for _, conversions, _ in rows)
    total_value = sum(Fraction(f"{value:.2f}") for _, _, value in rows)
    for model in PATH_MODELS:
        credits = attribute_paths(records, model)
        if model != "markov":
            expected = naive(rows, model)
            for channel, (want_conversions, want_value) in expected.items():
                got = credits.channels[channel]
                assert got.conversions == pytest.approx(want_conversions, rel=1e-12, abs=1e-9)
                assert got.value == pytest.approx(want_value, rel=1e-12, abs=1e-6)
        if total_conversions:
            conv_sum = sum(c.conversions for c in credits.channels.values())
            value_sum = sum(c.value for c in credits.channels.values())
            assert conv_sum == pytest.approx(total_conversions, rel=1e-12)
            assert value_sum == pytest.approx(float(total_value), rel=1e-12, abs=1e-6)
        assert credits.total_conversions == total_conversions
