"""Stage 3, extraction: document types, rules and layout candidates, the spaCy model plus
calibrated confidence, routing (``predictions``)."""
