"""deepqa: train, tune, evaluate and serve seq2seq generative chatbots."""

__version__ = "0.1.0"
