"""The per-document domain check: a summary of training texts, and who falls outside it."""

from __future__ import annotations

from docasset.core.extraction.domain import DomainConfig, domain_summary, out_of_domain, shape

LIKE = [
    f"KEDAI RUNCIT {name}\nJALAN SAGU {i}\nTOTAL {i}.50\nCASH {i + 1}.00\nTHANK YOU"
    for i, name in enumerate(["MAWAR", "MELATI", "KENANGA", "ORKID", "CEMPAKA", "SERI", "INDAH"])
] + ["KEDAI RUNCIT ANGGERIK\nJALAN IPOH 9\nTOTAL 9.90\nCASH 10.00\nTHANK YOU"]


def test_too_few_documents_describe_no_domain() -> None:
    assert domain_summary(LIKE[:7]) is None
    assert domain_summary(LIKE[:7], DomainConfig(min_documents=7)) is not None


def test_a_document_like_the_training_ones_passes_and_an_unlike_one_says_why() -> None:
    summary = domain_summary(LIKE)
    assert summary is not None and summary["n_documents"] == 8
    like = "KEDAI RUNCIT TULIP\nJALAN SAGU 4\nTOTAL 4.50\nCASH 5.00\nTHANK YOU"
    assert out_of_domain(summary, like) == []
    invoice = "\n".join(f"Consulting services rendered, milestone {k}" for k in range(30))
    reasons = out_of_domain(summary, invoice)
    assert any(r.startswith("n_lines 30 outside the training range") for r in reasons)
    assert any("never seen in training" in r for r in reasons)
    assert shape("AB\n12")["digit_share"] == 0.5
