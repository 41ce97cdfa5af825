"""How likely the generator finds an answer: teacher-forced log-likelihoods, and the pointwise mutual
information of answer and context (Li et al. 2016's MMI), which does not favour generic replies."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from deepqa.data.vocab import EOS, GO
from deepqa.inference.decoding import pad_rows
from deepqa.train.losses import token_mask


class LikelihoodScorer:
    """Teacher-forced log-likelihoods of answers given questions, in batches, compiled once."""

    def __init__(self, model, batch_size: int = 64):
        self.batch_size = batch_size
        spec = tf.TensorSpec([None, None], tf.int32)
        self._sums = tf.function(self._log_likelihood_sums, input_signature=[spec, spec, spec])
        self.model = model

    def _log_likelihood_sums(self, encoder_ids, decoder_ids, targets):
        logits = self.model({"encoder_ids": encoder_ids, "decoder_ids": decoder_ids})
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
        picked = tf.gather(log_probs, targets, axis=-1, batch_dims=2)
        return tf.reduce_sum(picked * token_mask(targets), axis=1)

    def sums_and_counts(self, questions: list[np.ndarray], answers: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Summed log-probability of each answer + <eos> given its question, and its token count."""
        sums = []
        for start in range(0, len(questions), self.batch_size):
            chunk_q, chunk_a = questions[start:start + self.batch_size], answers[start:start + self.batch_size]
            decoder = pad_rows([np.concatenate([[GO], a]).astype(np.int32) for a in chunk_a])
            targets = pad_rows([np.concatenate([a, [EOS]]).astype(np.int32) for a in chunk_a])
            sums.append(self._sums(pad_rows(chunk_q), decoder, targets).numpy())
        counts = np.array([len(a) + 1 for a in answers], dtype=np.float64)
        return np.concatenate(sums) if sums else np.zeros(0), counts

    def mean_log_likelihoods(self, questions: list[np.ndarray], answers: list[np.ndarray]) -> np.ndarray:
        """Length-normalised log-likelihood of each answer."""
        sums, counts = self.sums_and_counts(questions, answers)
        return sums / counts

    def mmi_scores(self, questions: list[np.ndarray], answers: list[np.ndarray], mmi_lambda: float) -> np.ndarray:
        """Mean log p(answer | question) - ``mmi_lambda`` x mean log p(answer | nothing said)."""
        scores = self.mean_log_likelihoods(questions, answers)
        if mmi_lambda:
            empty = [np.array([EOS], dtype=np.int32)] * len(answers)  # a content-free context
            scores = scores - mmi_lambda * self.mean_log_likelihoods(empty, answers)
        return scores
