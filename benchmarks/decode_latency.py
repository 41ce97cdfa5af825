"""Decoding latency: p50 and p95 milliseconds per 20-token reply, greedy and beam-4, for each
architecture of the `quick` profile, with deepqa's cached step (compiled with XLA as `[decode] xla`
says, and also without) against naive re-decoding of the whole prefix at every step, in the same run. Targets: cached greedy at least 5× faster than naive greedy;
cached beam-4 at most 3× the time of cached greedy. Prints one JSON line.

    python -m benchmarks.decode_latency [--quick]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks.common import peak_memory_mib

ARCHITECTURES = ("lstm", "transformer")
REPLY_TOKENS = 20


class NaiveModel:
    """The model behind the uncached baseline: each step re-runs the whole decoder (and encoder) over the
    prefix so far, where deepqa's models carry LSTM states or key/value caches from step to step."""

    def __init__(self, model):
        self.model, self.vocab_size, self.question_length = model, model.vocab_size, model.question_length

    def encode(self, encoder_ids, max_length):
        import tensorflow as tf

        return {"encoder_ids": encoder_ids, "prefix": tf.zeros((tf.shape(encoder_ids)[0], max_length), tf.int32)}

    def decode_step(self, token_ids, state, index):
        import tensorflow as tf

        length = tf.shape(state["prefix"])[1]
        prefix = state["prefix"] + tf.one_hot(index, length, dtype=tf.int32)[None, :] * token_ids[:, None]
        logits = self.model({"encoder_ids": state["encoder_ids"], "decoder_ids": prefix[:, :index + 1]})
        return logits[:, -1], {"encoder_ids": state["encoder_ids"], "prefix": prefix}


def timings(decoder, questions: np.ndarray, options) -> list[float]:
    """Milliseconds of each single-question reply (after one untimed warm-up)."""
    decoder.generate(questions[:1], options)
    result = []
    for row in questions:
        started = time.perf_counter()
        decoder.generate(row[None, :], options)
        result.append(1000 * (time.perf_counter() - started))
    return result


def summary(values: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2)}


def measure(architecture: str, replies: int) -> dict:
    from deepqa.config import DecodeConfig, load_config
    from deepqa.inference.decoding import Decoder
    from deepqa.models import build_model

    config = load_config(None, "quick", [f"model.type={architecture}", f"samples.max_answer_length={REPLY_TOKENS}"])
    vocab_size = config.vocab.max_size
    model = build_model(config, vocab_size)
    rng = np.random.default_rng(0)
    questions = rng.integers(4, vocab_size, size=(replies, config.samples.max_question_length)).astype(np.int32)
    # Exactly 20 tokens each, whatever the (untrained) model prefers: only speed is measured.
    common = dict(min_length=REPLY_TOKENS, max_length=REPLY_TOKENS, no_repeat_ngram_size=0, repetition_penalty=1.0)
    greedy, beam = DecodeConfig(strategy="greedy", **common), DecodeConfig(strategy="beam", beam_width=4, **common)
    cached = Decoder(model, REPLY_TOKENS + 1, xla=config.decode.xla)
    cached_graph_only = Decoder(model, REPLY_TOKENS + 1, xla=False)
    naive = Decoder(NaiveModel(model), REPLY_TOKENS + 1)  # its growing prefix cannot be XLA-compiled
    figures = {"cached_greedy": summary(timings(cached, questions, greedy)),
               "cached_greedy_without_xla": summary(timings(cached_graph_only, questions, greedy)),
               "naive_greedy": summary(timings(naive, questions, greedy)),
               "cached_beam4": summary(timings(cached, questions, beam)),
               "naive_beam4": summary(timings(naive, questions, beam))}
    figures["greedy_speedup_vs_naive"] = round(figures["naive_greedy"]["p50_ms"] / figures["cached_greedy"]["p50_ms"], 2)
    figures["beam4_over_greedy"] = round(figures["cached_beam4"]["p50_ms"] / figures["cached_greedy"]["p50_ms"], 2)
    figures["parameters"] = model.count_params()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer replies per figure")
    args = parser.parse_args()
    replies = 10 if args.quick else 40
    line = {"benchmark": "decode_latency", "reply_tokens": REPLY_TOKENS, "replies": replies,
            "targets": {"greedy_speedup_vs_naive": ">= 5", "beam4_over_greedy": "<= 3"}}
    for architecture in ARCHITECTURES:
        line[architecture] = measure(architecture, replies)
    line["peak_mib"] = peak_memory_mib()
    print(json.dumps(line))


if __name__ == "__main__":
    main()
