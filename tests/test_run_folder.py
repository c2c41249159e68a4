"""The run folder's progress.csv contract: a row holds exactly the header's columns. Under the test suite's
strict setting (conftest) a missing declared column or an undeclared key is an error; users' runs write NaN for
the one and drop the other, as before."""

import math

import pandas as pd
import pytest

from mbrlbench.rundir import STRICT_COLUMNS_ENV, ProgressCSV


def _csv(tmp_path, monkeypatch, strict: bool) -> ProgressCSV:
    monkeypatch.setenv(STRICT_COLUMNS_ENV, "1" if strict else "0")
    csv = ProgressCSV(tmp_path / "progress.csv", ["env_step", "model/val_loss"])
    csv.create()
    return csv


@pytest.mark.parametrize(
    "row, problem",
    [
        ({"env_step": 100}, "lacks declared columns ['model/val_loss']"),
        ({"env_step": 100, "model/val_loss": 1.0, "model/typo": 2.0}, "undeclared keys ['model/typo']"),
    ],
)
def test_strict_rows_must_hold_exactly_the_declared_columns(tmp_path, monkeypatch, row, problem):
    csv = _csv(tmp_path, monkeypatch, strict=True)
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        csv.append(row)
    assert (tmp_path / "progress.csv").read_text() == "env_step,model/val_loss\n"  # nothing written


def test_outside_tests_a_missing_column_is_nan_and_an_extra_key_is_dropped(tmp_path, monkeypatch):
    csv = _csv(tmp_path, monkeypatch, strict=False)
    csv.append({"env_step": 100, "model/typo": 2.0})
    df = pd.read_csv(tmp_path / "progress.csv")
    assert list(df.columns) == ["env_step", "model/val_loss"] and math.isnan(df["model/val_loss"].iloc[0])
