"""Feature and prediction drift of a window against the reference, with deepchecks.

The only module that imports deepchecks, and only inside :func:`run_drift`: importing it
takes seconds (it pulls in plotly, sklearn and friends), which nothing else should pay.
Checks: ``FeatureDrift`` (train-test drift of every per-document feature: Kolmogorov-Smirnov
for numbers) and ``PredictionDrift`` of the document's route (auto/review, Cramer's V).
Deepchecks' own interactive page (optional) is saved self-contained next to the health report;
docasset's drift page (``health_report.drift_blocks``) is the one the report links.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from docasset.core.files import REPORT_MODE, atomic_write

if TYPE_CHECKING:
    import pandas as pd

PREDICTION = "route"  # the prediction whose drift is measured (a document-level class)


@dataclass(frozen=True)
class DriftResult:
    """Per-feature drift scores (0 none .. 1 disjoint) and their methods, the route's
    prediction drift, the samples' sizes, and why drift was not measured (``skipped``)."""

    scores: dict[str, float] = field(default_factory=dict)
    methods: dict[str, str] = field(default_factory=dict)
    prediction_drift: float | None = None
    skipped: str | None = None
    n_reference: int = 0
    n_window: int = 0

    @property
    def max_score(self) -> float | None:
        """The largest drift among the features and the prediction (None when not measured)."""
        vals = [*self.scores.values()]
        if self.prediction_drift is not None:
            vals.append(self.prediction_drift)
        return max(vals) if vals else None

    def top(self, n: int = 5) -> list[tuple[str, float]]:
        """The ``n`` most drifted features, largest first."""
        return sorted(self.scores.items(), key=lambda kv: -kv[1])[:n]


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
    column, reference ``ref`` vs window ``cur``. With ``html_path``, deepchecks' interactive
    page is written there, self-contained (its scripts inlined: it renders with no network).

    Fewer than ``min_samples`` documents on either side: nothing is measured and
    ``skipped`` says why (deepchecks would refuse the same way).
    """
    n_ref, n_cur = ref.height, cur.height
    if n_ref < min_samples or n_cur < min_samples:
        why = (
            f"too few documents for drift (reference {n_ref}, window {n_cur}, "
            f"need {min_samples} each)"
        )
        return DriftResult(skipped=why, n_reference=n_ref, n_window=n_cur)
    cols = usable_columns(ref, cur, columns)
    if not cols:
        why = "no feature has values on both sides"
        return DriftResult(skipped=why, n_reference=n_ref, n_window=n_cur)
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
    scores: dict[str, float] = {}
    methods: dict[str, str] = {}
    prediction_drift: float | None = None
    for r in result.results:
        if getattr(r, "exception", None) is not None:
            # A check deepchecks could not run is reported, not hidden: re-raise its error.
            raise r.exception
        name = r.get_header()
        if name == "Feature Drift":
            for col, v in r.value.items():
                if v["Drift score"] is None:  # fewer than min_samples non-null values
                    methods[str(col)] = "not measured (too few values)"
                    continue
                scores[str(col)] = round(float(v["Drift score"]), 4)
                methods[str(col)] = str(v["Method"])
        elif name == "Prediction Drift":
            prediction_drift = round(float(r.value["Drift score"]), 4)
    if html_path is not None:
        save_page(result, html_path)
    return DriftResult(scores, methods, prediction_drift, None, n_ref, n_cur)


def save_page(result: Any, path: Path) -> None:
    """Write a deepchecks result as one self-contained HTML page, atomically.

    Not the widget page (deepchecks' default): that one loads the Jupyter widget manager from
    a CDN and stays blank offline, and takes seconds to serialize. The plain HTML form with
    ``connected=False`` inlines plotly and renders anywhere."""
    buf = io.BytesIO()
    text = io.TextIOWrapper(buf, encoding="utf-8")
    result.save_as_html(text, as_widget=False, connected=False)
    text.flush()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, buf.getvalue(), REPORT_MODE)


def _pandas(df: pl.DataFrame, cols: list[str], start: int) -> pd.DataFrame:
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
