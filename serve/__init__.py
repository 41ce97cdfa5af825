"""HTTP serving of a trained deepqa run: the Flask app behind ``POST /api/v1/question``."""
