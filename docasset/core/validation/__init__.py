"""Stage 4, validation: the review queue and its Label Studio interchange, the append-only
corrections store, the correction memory."""
