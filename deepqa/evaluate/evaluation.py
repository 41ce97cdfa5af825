"""``deepqa evaluate``: response selection against a TF-IDF baseline, and generation quality.

Selection: each candidate is scored by the model's length-normalised log-likelihood given the
context (teacher forcing, batched); with ``[eval] mmi_lambda`` > 0 the candidate's unconditional
log-likelihood (given an empty context) times lambda is subtracted, since plain likelihood favours
generic replies. Generation, on the test split: perplexity, BLEU, distinct-1/2, reply length and the
share of the most frequent reply. The report goes to JSON, to a table and to TensorBoard.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from deepqa import atomic
from deepqa.inference.chatbot import Chatbot
from deepqa.data.dataset import Dataset
from deepqa.inference.decoding import pad_rows
from deepqa.inference.likelihood import LikelihoodScorer
from deepqa.errors import DatasetError
from deepqa.files import DATASET_FILE, LOGS_DIR
from deepqa.data.vocab import EOS
from deepqa.ranker.lexical import lexical_ids
from deepqa.evaluate.selection import Bm25Ranker, Case, TfidfRanker, chance_report, load_cases, recall_report
from deepqa.evaluate.text_metrics import corpus_bleu, distinct_n, most_frequent_share

REPORT_FILE = "report.json"


@dataclass
class EncodedCase:
    """A case as ids for the model and as tokens for the TF-IDF baseline; candidate 0 is the response. Cases
    made from text also carry ids that tell unknown words apart, for the ranker's lexical part."""

    context_ids: np.ndarray
    candidate_ids: list[np.ndarray]
    context_tokens: list[str]
    candidate_tokens: list[list[str]]
    context_lexical: np.ndarray | None = None
    candidate_lexical: list[np.ndarray] | None = None


def encode_cases(bot: Chatbot, cases: list[Case]) -> list[EncodedCase]:
    """Encode text cases for the model and the lexical baselines."""
    size = len(bot.vocabulary)

    def lexical(tokens: list[str]) -> np.ndarray:
        return lexical_ids(tokens, bot.vocabulary.encode(tokens), size)

    def encode(case: Case) -> EncodedCase:
        context = bot.tokenizer.tokenize(" ".join(case.context))
        candidates = [bot.tokenizer.tokenize(text) for text in case.candidates]
        longest = bot.config.samples.max_answer_length
        # The ranker reads the context as a reply reads it; the TF-IDF and BM25 baselines read all of it.
        context_ids, context_lexical = bot.encode_turns_lexically(case.context[-1], case.context[:-1])
        return EncodedCase(context_ids, [bot.encode_answer(text) for text in case.candidates], context, candidates,
                           context_lexical, [lexical(tokens)[:longest] for tokens in candidates])
    return [encode(case) for case in cases]


def cases_from_file(bot: Chatbot, path: str) -> list[EncodedCase]:
    """Encode the cases of a candidates file for the model and the baseline."""
    return encode_cases(bot, load_cases(path))


def cases_from_dataset(bot: Chatbot, dataset: Dataset, count: int, distractors: int, seed: int,
                       split: str = "test") -> list[EncodedCase]:
    """Cases from a split, each with distractors drawn (seeded) from other conversations' answers."""
    test = dataset.samples.of_split(split)
    if len(test) < 2 or len(np.unique(test.conversation)) < 2:
        raise DatasetError(f"the {split} split is too small to build response-selection cases; "
                           f"prepare with samples.{split}_fraction > 0 or pass --candidates FILE")
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(test))[:count]
    decode = bot.vocabulary.decode
    cases = []
    for index in chosen:
        answer = test.answer(index)
        picked: list[np.ndarray] = []
        for other in rng.permutation(len(test)):
            if len(picked) == distractors:
                break
            candidate = test.answer(other)
            if test.conversation[other] != test.conversation[index] and not np.array_equal(candidate, answer):
                picked.append(candidate)
        if len(picked) < distractors:
            continue
        candidates = [answer, *picked]
        question = test.question(index)
        cases.append(EncodedCase(question, candidates, decode(question[question != EOS]),  # every turn
                                 [decode(c) for c in candidates]))
    if not cases:
        raise DatasetError("no test sample has enough distractors from other conversations")
    return cases


def selection_scores(scorer: LikelihoodScorer, cases: list[EncodedCase], mmi_lambda: float) -> np.ndarray:
    """Model scores [cases, candidates]; MMI-adjusted when ``mmi_lambda`` > 0."""
    width = min(len(case.candidate_ids) for case in cases)
    questions = [case.context_ids for case in cases for _ in range(width)]
    answers = [candidate for case in cases for candidate in case.candidate_ids[:width]]
    return scorer.mmi_scores(questions, answers, mmi_lambda).reshape(len(cases), width)


def lexical_rows(cases: list[EncodedCase], width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Padded context and candidate rows with unknown words told apart, when every case has them."""
    if any(case.context_lexical is None for case in cases):
        return None
    return (pad_rows([case.context_lexical for case in cases for _ in range(width)]),
            pad_rows([candidate for case in cases for candidate in case.candidate_lexical[:width]]))


def ranker_scores(bot: Chatbot, cases: list[EncodedCase], lexical: bool = True) -> np.ndarray:
    """The ranker's scores [cases, candidates]; the towers' cosine alone unless ``lexical``."""
    width = min(len(case.candidate_ids) for case in cases)
    contexts = pad_rows([case.context_ids for case in cases for _ in range(width)])
    candidates = pad_rows([candidate for case in cases for candidate in case.candidate_ids[:width]])
    return bot.ranker.scores(contexts, candidates, lexical, lexical_rows(cases, width)).reshape(len(cases), width)


def lexical_scores(cases: list[EncodedCase], kind: type[TfidfRanker] | type[Bm25Ranker]) -> np.ndarray:
    """TF-IDF cosine or BM25 scores [cases, candidates], document frequencies from the cases' own texts."""
    width = min(len(case.candidate_ids) for case in cases)
    documents = [case.context_tokens for case in cases] + [t for case in cases for t in case.candidate_tokens]
    ranker = kind(documents)
    return np.array([ranker.score(case.context_tokens, case.candidate_tokens[:width]) for case in cases])


def hybrid_selection_scores(bot: Chatbot, cases: list[EncodedCase], generator_weight: float) -> np.ndarray:
    """The hybrid reply mode's scores [cases, candidates]: ranker plus weighted generator PMI."""
    width = min(len(case.candidate_ids) for case in cases)
    contexts = pad_rows([case.context_ids for case in cases for _ in range(width)])
    candidates = [candidate for case in cases for candidate in case.candidate_ids[:width]]
    return bot.hybrid_scores(contexts, candidates, generator_weight,
                             lexical_rows(cases, width)).reshape(len(cases), width)


def generation_report(bot: Chatbot, scorer: LikelihoodScorer, dataset: Dataset, max_cases: int,
                      max_generate: int, batch_size: int, seed: int) -> dict:
    """Perplexity, BLEU, distinct-n, average length and most frequent reply on the test split."""
    test = dataset.samples.of_split("test")
    if len(test) == 0:
        return {"skipped": "the dataset has no test split"}
    order = np.random.default_rng(seed).permutation(len(test))
    sample = order[:max_cases]
    sums, counts = scorer.sums_and_counts([test.question(i) for i in sample], [test.answer(i) for i in sample])
    perplexity = float(np.exp(-sums.sum() / counts.sum()))
    generate = order[:max_generate]
    options = bot.check_options(bot.config.decode.replace(num_answers=1))
    replies, references = [], []
    for start in range(0, len(generate), batch_size):
        chunk = generate[start:start + batch_size]
        turns = [turns_of(bot, test.question(i)) for i in chunk]
        answers = bot.reply_encoded(pad_rows([test.question(i) for i in chunk]), turns, options)
        replies += [bot.tokenizer.tokenize(answer.text) for answer in answers]
        references += [bot.vocabulary.decode(test.answer(i)) for i in chunk]
    texts = [bot.tokenizer.detokenize(reply) for reply in replies]
    share = most_frequent_share(texts)
    return {"test_samples": int(len(sample)), "generated": len(replies), "perplexity": perplexity,
            "bleu": corpus_bleu(replies, references), "distinct_1": distinct_n(replies, 1),
            "distinct_2": distinct_n(replies, 2), "average_length": float(np.mean([len(r) for r in replies])),
            "most_frequent_reply_share": share,
            "most_frequent_reply": max(set(texts), key=texts.count) if texts else "",
            "decoding": describe_reply_mode(options)}


def describe_reply_mode(options) -> str:
    """A short name of how replies are made: the strategy, or the mode and what it pools."""
    if options.mode == "generate":
        return options.strategy
    if options.mode == "rank":
        return "rank (retrieved answers)"
    return (f"hybrid: beam {options.beam_width} + {options.hybrid_samples} samples + "
            f"{options.hybrid_retrieved} retrieved, generator weight {options.hybrid_generator_weight:g}")


def turns_of(bot: Chatbot, question_ids: np.ndarray) -> tuple[str, list[str]]:
    """The (question, context) texts of encoded context ids (turns joined by <eos>)."""
    turns, current = [], []
    for token in question_ids.tolist() + [EOS]:
        if token == EOS:
            turns.append(bot.tokenizer.detokenize(bot.vocabulary.decode(np.asarray(current, np.int32))))
            current = []
        else:
            current.append(token)
    return turns[-1], turns[:-1]


def evaluate(bot: Chatbot, candidates_file: str | None = None, data_dir: str | None = None) -> dict:
    """The full report of a run: selection against TF-IDF and chance, and generation quality."""
    settings = bot.config.eval
    scorer = LikelihoodScorer(bot.model, settings.batch_size)
    dataset = dataset_of(bot, data_dir, required=not (candidates_file or settings.candidates_file))
    source = candidates_file or settings.candidates_file
    if source:
        cases = cases_from_file(bot, source)[:settings.max_cases]
    else:
        cases = cases_from_dataset(bot, dataset, settings.max_cases, settings.num_distractors, settings.seed)
    width = min(len(case.candidate_ids) for case in cases)
    selection = {"model": recall_report(selection_scores(scorer, cases, 0.0))}
    if settings.mmi_lambda:
        selection["model_mmi"] = recall_report(selection_scores(scorer, cases, settings.mmi_lambda))
    if bot.ranker is not None:
        selection["ranker"] = recall_report(ranker_scores(bot, cases))
        if bot.ranker.lexical_weight:
            selection["ranker_towers_only"] = recall_report(ranker_scores(bot, cases, lexical=False))
        generator_weight = bot.config.decode.hybrid_generator_weight
        if generator_weight:
            selection["hybrid"] = recall_report(hybrid_selection_scores(bot, cases, generator_weight))
    selection.update({"tfidf": recall_report(lexical_scores(cases, TfidfRanker)),
                      "bm25": recall_report(lexical_scores(cases, Bm25Ranker)), "chance": chance_report(width)})
    report = {"run": str(bot.run_dir), "model": bot.config.model.type, "cases": len(cases),
              "candidates_per_case": width, "cases_from": source or "test split", "selection": selection}
    if dataset is not None:
        report["generation"] = generation_report(bot, scorer, dataset, settings.max_cases, settings.max_generate,
                                                 settings.batch_size, settings.seed)
    return report


def dataset_of(bot: Chatbot, data_dir: str | None, required: bool) -> Dataset | None:
    """The dataset at ``data_dir``, else the one the run was trained on; None (or a :class:`DatasetError` when
    ``required``) when it is not there, and an error when its vocabulary is not the run's."""
    path = data_dir
    if path is None and (bot.run_dir / DATASET_FILE).is_file():
        path = json.loads((bot.run_dir / DATASET_FILE).read_text(encoding="utf-8"))["path"]
    if path is None or not Path(path).is_dir():
        if required:
            raise DatasetError(f"the run's dataset ({path}) is not there: pass --data DIR or --candidates FILE")
        return None
    dataset = Dataset.load(path)
    if dataset.vocabulary.fingerprint != bot.vocabulary.fingerprint:
        raise DatasetError(f"the dataset at {path} is not the one {bot.run_dir.name} was trained on")
    return dataset


def write_report(bot: Chatbot, report: dict, out: str | Path | None) -> Path:
    """Write ``report.json`` (to ``out`` or the run directory) and the figures to the run's TensorBoard."""
    path = Path(out) if out else bot.run_dir / REPORT_FILE
    atomic.write_json(path, report)
    step = int(bot.metrics.get("epochs_completed", 0))
    writer = tf.summary.create_file_writer(str(bot.run_dir / LOGS_DIR / "evaluation"))
    with writer.as_default(step=step):
        for ranker, figures in report["selection"].items():
            for name, value in figures.items():
                tf.summary.scalar(f"selection/{ranker}/{name}", value)
        for name, value in report.get("generation", {}).items():
            if isinstance(value, float):
                tf.summary.scalar(f"generation/{name}", value)
    writer.flush()
    return path


def format_table(report: dict) -> str:
    """The report as a readable table."""
    selection = report["selection"]
    columns = list(next(iter(selection.values())))
    width = max(12, *(len(name) + 2 for name in selection))
    lines = [f"response selection: {report['cases']} cases from {report['cases_from']}, "
             f"{report['candidates_per_case']} candidates each",
             f"{'scorer':<{width}}" + "".join(f"{c:>14}" for c in columns)]
    for ranker, figures in selection.items():
        lines.append(f"{ranker:<{width}}" + "".join(f"{figures[c]:>14.3f}" for c in columns))
    generation = report.get("generation")
    if generation and "skipped" not in generation:
        lines += ["", f"generation on {generation['generated']} test questions ({generation['decoding']}):"]
        for name in ("perplexity", "bleu", "distinct_1", "distinct_2", "average_length", "most_frequent_reply_share"):
            lines.append(f"  {name:<28}{generation[name]:>10.3f}")
        lines.append(f"  most frequent reply: {generation['most_frequent_reply']!r}")
    return "\n".join(lines)
