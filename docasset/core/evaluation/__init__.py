"""Stage 6, evaluation: golden-set scores, the accuracy-regression verdict, error analysis and
the manager's report."""
