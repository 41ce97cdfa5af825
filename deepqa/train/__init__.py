"""Training: the fit loop, its input pipeline, losses and schedules, run bundles, architecture search and budgets."""
