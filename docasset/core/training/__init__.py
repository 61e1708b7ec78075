"""Stage 5, training: alignment of typed values to OCR text, spaCy NER training with
calibration, the model registry."""
