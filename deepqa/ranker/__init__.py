"""The response ranker: a dual encoder over the dataset's own vocabulary, trained contrastively, and the
index of training answers it retrieves from. Encoder architectures register in ``RANKER_ENCODERS``."""

from deepqa.registry import RANKER_ENCODERS, import_submodules

import_submodules(__name__, __path__)  # the encoder modules register themselves

__all__ = ["RANKER_ENCODERS"]
