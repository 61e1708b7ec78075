"""The review queue: which documents operators check (review routes plus a stable QA sample).

The Label Studio side lives beside it: the labelling config in ``ls_config``, tasks out in
``ls_tasks``, annotations in in ``ls_annotations``, the server's API in ``ls_client``, a local
server and its accounts in ``ls_server``.
"""

from __future__ import annotations

import hashlib

import pandera.polars as pa
import polars as pl

from docasset.core.extraction.prediction_table import PREDICTIONS_SCHEMA

QUEUE_REASONS = ("review", "qa_sample")
# The review queue: prediction rows of the queued documents, with why each is queued.
REVIEW_QUEUE_SCHEMA = PREDICTIONS_SCHEMA.add_columns(
    {"queue_reason": pa.Column(pl.Utf8, pa.Check.isin(list(QUEUE_REASONS)), nullable=False)}
)


def in_qa_sample(doc_id: str, rate: float) -> bool:
    """Whether an automated document is in the stable QA sample (salted id hash < rate; the
    salt keeps the sample independent of the train/dev/golden split)."""
    h = int(hashlib.sha256(f"qa-sample:{doc_id}".encode()).hexdigest()[:8], 16) / 2**32
    return h < rate


def review_queue_frame(predictions: pl.DataFrame, sample_rate: float) -> pl.DataFrame:
    """The documents routed to review plus the QA sample of automated ones (validated)."""
    sampled = [
        d
        for d in predictions.filter(pl.col("route") == "auto")["doc_id"].unique().to_list()
        if in_qa_sample(d, sample_rate)
    ]
    queued = predictions.filter(
        (pl.col("route") == "review") | pl.col("doc_id").is_in(sampled)
    ).with_columns(
        pl.when(pl.col("route") == "review")
        .then(pl.lit("review"))
        .otherwise(pl.lit("qa_sample"))
        .alias("queue_reason")
    )
    return REVIEW_QUEUE_SCHEMA.validate(queued)
