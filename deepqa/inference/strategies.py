"""The decoding strategies behind ``[decode] strategy``: greedy, beam search and sampling.

A strategy is a class registered with ``@STRATEGIES.register(name)`` that checks the ``[decode]`` settings
it depends on (``check``, run whenever those settings load or change, so a bad combination never reaches
a request) and turns encoder ids into hypotheses with a :class:`~deepqa.inference.decoding.Decoder`
(``generate``). The config, the API, its OpenAPI document and the chat console take the names from here.
"""

from __future__ import annotations

import numpy as np

from deepqa.config import DecodeConfig
from deepqa.inference.decoding import Decoder, Hypothesis
from deepqa.registry import STRATEGIES


class Strategy:
    """Base class: a strategy accepts any settings unless it says otherwise."""

    @classmethod
    def check(cls, options: DecodeConfig) -> None:
        """Raise ``ValueError`` for settings this strategy cannot honour."""

    @classmethod
    def generate(cls, decoder: Decoder, encoder_ids: np.ndarray, options: DecodeConfig) -> list[list[Hypothesis]]:
        """``options.num_answers`` hypotheses for each row of ``encoder_ids``, best first."""
        raise NotImplementedError


@STRATEGIES.register("greedy")
class Greedy(Strategy):
    """The most likely token at every step (after the logit shaping of ``[decode]``)."""

    @classmethod
    def generate(cls, decoder, encoder_ids, options):
        return decoder.sample(encoder_ids, options, greedy=True)


@STRATEGIES.register("beam")
class BeamSearch(Strategy):
    """Beam search of ``beam_width`` hypotheses with GNMT's length penalty; ``num_answers`` best of the beam."""

    @classmethod
    def check(cls, options):
        if options.num_answers > options.beam_width:
            raise ValueError(f"num_answers {options.num_answers} must not exceed beam_width {options.beam_width} "
                             "with beam search")

    @classmethod
    def generate(cls, decoder, encoder_ids, options):
        return decoder.beam_search(encoder_ids, options)


@STRATEGIES.register("sample")
class Sampling(Strategy):
    """Tokens drawn with temperature, top-k and top-p; ``num_answers`` independent samples."""

    @classmethod
    def generate(cls, decoder, encoder_ids, options):
        return decoder.sample(encoder_ids, options, greedy=False)
