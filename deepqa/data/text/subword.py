"""The sentencepiece tokenizer: a unigram or BPE model trained on the training split."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

from deepqa import atomic
from deepqa.config import TokenizerConfig
from deepqa.errors import ConfigError, DatasetError
from deepqa.data.text.english import sentence_case
from deepqa.data.text.tokenizers import Tokenizer, register_tokenizer

from deepqa.files import TOKENIZER_MODEL_FILE as MODEL_FILE


@register_tokenizer("sentencepiece")
class SentencePieceTokenizer(Tokenizer):
    """Subword pieces from a sentencepiece model saved in the dataset as ``tokenizer.model``."""

    def __init__(self, config: TokenizerConfig, model_dir: str | Path | None = None):
        super().__init__(config, model_dir)
        import sentencepiece

        self._spm = sentencepiece
        self._processor = None
        self._model_bytes = b""
        model_path = Path(model_dir) / MODEL_FILE if model_dir else None
        if model_path is not None and model_path.is_file():
            self._load(model_path.read_bytes())

    def _load(self, model_bytes: bytes) -> None:
        self._model_bytes = model_bytes
        self._processor = self._spm.SentencePieceProcessor(model_proto=model_bytes)

    def fit(self, normalized_texts: Iterable[str], out_dir: str | Path) -> None:
        """Train the model on the (already normalized) training texts and save it into ``out_dir``."""
        buffer = io.BytesIO()
        texts = [text for text in normalized_texts if text]
        if not texts:
            raise DatasetError("sentencepiece: the training split has no text to learn pieces from")
        try:
            self._train(texts, buffer)
        except RuntimeError as exc:
            detail = str(exc).split("] ")[-1]
            raise ConfigError(f"sentencepiece training failed: {detail} "
                              "(see [tokenizer] sp_vocab_size and sp_character_coverage)") from None
        self._load(buffer.getvalue())
        self.save(out_dir)

    def _train(self, texts: list[str], buffer: io.BytesIO) -> None:
        self._spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts),
            model_writer=buffer,
            model_type=self.config.sp_model_type,
            vocab_size=self.config.sp_vocab_size,
            character_coverage=self.config.sp_character_coverage,
            byte_fallback=self.config.sp_byte_fallback,
            hard_vocab_limit=False,  # a small corpus yields fewer pieces instead of failing
            normalization_rule_name="identity",  # deepqa has normalized already
            pad_id=-1, bos_id=-1, eos_id=-1, unk_id=0,
            input_sentence_size=2_000_000, shuffle_input_sentence=True,
            num_threads=2, minloglevel=2,
        )

    def save(self, out_dir: str | Path) -> None:
        if self._model_bytes:
            atomic.write_bytes(Path(out_dir) / MODEL_FILE, self._model_bytes)

    def _require_model(self):
        if self._processor is None:
            raise DatasetError(f"sentencepiece: no {MODEL_FILE} found; prepare the dataset first")
        return self._processor

    def split(self, normalized: str) -> list[str]:
        return self._require_model().encode(normalized, out_type=str)

    def detokenize(self, tokens: Iterable[str]) -> str:
        text = self._require_model().decode_pieces(list(tokens))
        return sentence_case(text) if self.config.lowercase else text
