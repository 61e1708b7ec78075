"""The review queue: which documents operators check (review routes plus a stable QA sample).

QA is blind: a sampled accepted field (``qa_rate``, stable by a hash of document id and field)
is asked as ``to_check`` like any other field, with ``qa`` set in the queue; a touchless
document in the document sample (``sample_rate``) has every accepted field asked so, and a
touchless document with a sampled field is queued (``queue_reason`` ``qa_sample``). The
operator is not told which fields are QA, so the answer measures accepted-field accuracy.

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
    {
        "queue_reason": pa.Column(pl.Utf8, pa.Check.isin(list(QUEUE_REASONS)), nullable=False),
        # An accepted field asked blind as QA (its field_status here is to_check).
        "qa": pa.Column(pl.Boolean, nullable=False),
    }
)


def in_qa_sample(doc_id: str, rate: float) -> bool:
    """Whether an automated document is in the stable QA sample (salted id hash < rate; the
    salt keeps the sample independent of the train/dev/golden split)."""
    h = int(hashlib.sha256(f"qa-sample:{doc_id}".encode()).hexdigest()[:8], 16) / 2**32
    return h < rate


def in_qa_fields(doc_id: str, field: str, rate: float) -> bool:
    """Whether an accepted field is in the stable field QA sample (salted hash of document id
    and field < rate)."""
    h = int(hashlib.sha256(f"qa-field:{doc_id}:{field}".encode()).hexdigest()[:8], 16) / 2**32
    return h < rate


def review_queue_frame(
    predictions: pl.DataFrame, sample_rate: float, qa_rate: float = 0.0
) -> pl.DataFrame:
    """The documents routed to review plus the QA samples (validated): touchless documents in
    the document sample (every accepted field asked) and accepted fields in the field sample
    (asked blind; a touchless document holding one is queued)."""
    auto_docs = predictions.filter(pl.col("route") == "auto")["doc_id"].unique().to_list()
    whole = {d for d in auto_docs if in_qa_sample(d, sample_rate)}
    accepted = predictions.filter(
        (pl.col("field_status") == "accepted") & pl.col("value").is_not_null()
    )
    qa_pairs = {
        (d, f)
        for d, f in accepted.select("doc_id", "field").iter_rows()
        if d in whole or in_qa_fields(d, f, qa_rate)
    }
    qa_docs = {d for d, _ in qa_pairs}
    marked = predictions.with_columns(
        pl.Series(
            "qa",
            [(d, f) in qa_pairs for d, f in predictions.select("doc_id", "field").iter_rows()],
            dtype=pl.Boolean,
        )
    )
    queued = marked.filter(
        (pl.col("route") == "review") | pl.col("doc_id").is_in(sorted(whole | qa_docs))
    ).with_columns(
        pl.when(pl.col("route") == "review")
        .then(pl.lit("review"))
        .otherwise(pl.lit("qa_sample"))
        .alias("queue_reason"),
        pl.when(pl.col("qa"))
        .then(pl.lit("to_check"))
        .otherwise(pl.col("field_status"))
        .alias("field_status"),
    )
    return REVIEW_QUEUE_SCHEMA.validate(queued.select([*predictions.columns, "queue_reason", "qa"]))
