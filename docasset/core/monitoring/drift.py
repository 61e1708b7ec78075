"""Feature and prediction drift of a window against the reference, with deepchecks.

The only module that imports deepchecks, and only inside :func:`run_drift`: importing it
takes seconds (it pulls in plotly, sklearn and friends), which nothing else should pay.
Checks: ``FeatureDrift`` (train-test drift of every per-document feature: Kolmogorov-Smirnov
for numbers) and ``PredictionDrift`` of the document's route (auto/review, Cramer's V); the
suite's HTML is written next to the health report.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

PREDICTION = "route"  # the prediction whose drift is measured (a document-level class)


@dataclass
class DriftResult:
    """Per-feature drift scores (0 none .. 1 disjoint), the route's prediction drift, where
    the deepchecks HTML is, and why drift was not measured (``skipped``) when it was not."""

    scores: dict[str, float] = field(default_factory=dict)
    methods: dict[str, str] = field(default_factory=dict)
    prediction_drift: float | None = None
    html_path: str | None = None
    skipped: str | None = None
    n_reference: int = 0
    n_window: int = 0

    @property
    def max_score(self) -> float:
        """The largest drift among the features and the prediction (0 when not measured)."""
        vals = [*self.scores.values(), self.prediction_drift or 0.0]
        return max(vals) if vals else 0.0

    def top(self, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` most drifted features, largest first."""
        return sorted(self.scores.items(), key=lambda kv: -kv[1])[:n]

    def as_dict(self) -> dict[str, object]:
        return {
            "scores": self.scores,
            "methods": self.methods,
            "prediction_drift": self.prediction_drift,
            "max_score": self.max_score,
            "html_path": self.html_path,
            "skipped": self.skipped,
            "n_reference": self.n_reference,
            "n_window": self.n_window,
        }


def usable_columns(ref: pl.DataFrame, cur: pl.DataFrame, columns: list[str]) -> list[str]:
    """Columns present and not entirely null on both sides (drift needs values to compare)."""
    return [
        c
        for c in columns
        if c in ref.columns
        and c in cur.columns
        and ref[c].null_count() < ref.height
        and cur[c].null_count() < cur.height
    ]


def run_drift(
    ref: pl.DataFrame,
    cur: pl.DataFrame,
    columns: list[str],
    html_path: Path | None,
    min_samples: int = 10,
) -> DriftResult:
    """Deepchecks ``FeatureDrift`` over ``columns`` and ``PredictionDrift`` of the ``route``
    column, reference ``ref`` vs window ``cur``; writes the suite HTML to ``html_path``.

    Fewer than ``min_samples`` documents on either side: nothing is measured and
    ``skipped`` says why (deepchecks would refuse the same way).
    """
    out = DriftResult(n_reference=ref.height, n_window=cur.height)
    if ref.height < min_samples or cur.height < min_samples:
        out.skipped = (
            f"too few documents for drift (reference {ref.height}, window {cur.height}, "
            f"need {min_samples} each)"
        )
        return out
    cols = usable_columns(ref, cur, columns)
    if not cols:
        out.skipped = "no feature has values on both sides"
        return out
    # Lazy on purpose: see the module docstring.
    from deepchecks.tabular import Dataset, Suite
    from deepchecks.tabular.checks import FeatureDrift, PredictionDrift

    ref_pd = _pandas(ref, cols, 0)
    cur_pd = _pandas(cur, cols, ref.height)  # distinct indexes: no "common index" warning
    suite = Suite(
        "docasset production drift",
        FeatureDrift(
            columns=cols,
            n_top_columns=len(cols),
            min_samples=min_samples,
            numerical_drift_method="KS",
        ),
        PredictionDrift(min_samples=min_samples, numerical_drift_method="KS"),
    )
    y_ref = ref[PREDICTION].to_numpy()
    y_cur = cur[PREDICTION].to_numpy()
    with warnings.catch_warnings(), _quiet():
        warnings.simplefilter("ignore")
        result = suite.run(
            train_dataset=Dataset(ref_pd, cat_features=[]),
            test_dataset=Dataset(cur_pd, cat_features=[]),
            y_pred_train=y_ref,
            y_pred_test=y_cur,
            model_classes=["auto", "review"],
        )
    for r in result.results:
        if getattr(r, "exception", None) is not None:
            # A check deepchecks could not run is reported, not hidden: re-raise its error.
            raise r.exception
        name = r.get_header()
        if name == "Feature Drift":
            for col, v in r.value.items():
                if v["Drift score"] is None:  # fewer than min_samples non-null values
                    out.methods[str(col)] = "not measured (too few values)"
                    continue
                out.scores[str(col)] = round(float(v["Drift score"]), 4)
                out.methods[str(col)] = str(v["Method"])
        elif name == "Prediction Drift":
            out.prediction_drift = round(float(r.value["Drift score"]), 4)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = html_path.with_name(html_path.name + ".tmp")
        result.save_as_html(str(tmp))
        tmp.replace(html_path)
        out.html_path = str(html_path)
    return out


def _pandas(df: pl.DataFrame, cols: list[str], start: int):  # -> pandas.DataFrame
    """Numeric columns as a pandas frame (nulls as NaN) without pyarrow, indexed from ``start``."""
    import pandas as pd

    data = {c: df[c].cast(pl.Float64).to_numpy() for c in cols}
    return pd.DataFrame(data, index=range(start, start + df.height))


class _quiet:
    """Silence deepchecks' progress bars and warnings for the duration of a run (its
    verbosity level switches the tqdm bars off)."""

    def __enter__(self) -> None:
        from deepchecks.utils.logger import get_verbosity, set_verbosity

        self._level = get_verbosity()
        set_verbosity(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        from deepchecks.utils.logger import set_verbosity

        set_verbosity(self._level)
