"""Evaluation: response selection, generation metrics and the report."""
