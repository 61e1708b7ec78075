"""Stage 4, validation: the review queue's Label Studio interchange, the append-only corrections
store, the correction memory, promotion into the curated set, annotation QA."""
