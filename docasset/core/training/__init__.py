"""Stage 5, training: promotion of corrections into the curated training set and annotation QA,
alignment of typed values to OCR text, spaCy NER training with calibration, the model registry
and each version's production-health reference."""
