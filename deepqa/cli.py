"""The ``deepqa`` command: ``deepqa prepare`` and the stages that follow it.

Errors the user can fix are printed as one ``error:`` line (exit status 2), never as a traceback;
``--debug`` shows the traceback of an unexpected failure.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from deepqa import __version__
from deepqa.errors import ConfigError, DeepQAError
from deepqa.log import get_logger, quiet_tensorflow, show_messages

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
LOG = get_logger(__name__)


def _config_options() -> argparse.ArgumentParser:
    """Options shared by every stage that reads the configuration."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("configuration")
    group.add_argument("--config", metavar="PATH",
                       help="config file (default: ./config.ini, else the project's config.ini, else built-in defaults)")
    group.add_argument("--profile", metavar="NAME",
                       help="apply the [profile:NAME] section of the config file (tiny, quick, full, or your own)")
    group.add_argument("--set", dest="overrides", metavar="SECTION.KEY=VALUE", action="append", default=[],
                       help="override one setting, e.g. --set vocab.max_size=8000 (repeatable; applied last)")
    group.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error")
    return parent


def _load(args: argparse.Namespace):
    from deepqa.config import load_config

    return load_config(args.config, args.profile, args.overrides, os.environ)


def run_prepare(args: argparse.Namespace) -> int:
    """``deepqa prepare``: read the corpus and write the dataset folder."""
    from deepqa.data.prepare import prepare

    config = _load(args)
    out = args.out or config.corpus.dataset_dir
    stats = prepare(config, out)
    pairs, splits, vocab = stats["pairs"], stats["splits"], stats["vocabulary"]
    skipped = sum(source["skipped"] for source in stats["sources"].values())
    print(f"conversations: {stats['conversations']}   turns: {stats['turns']}   malformed lines skipped: {skipped}")
    print(f"pairs: {pairs['candidates']} candidates, {pairs['kept']} kept, dropped {json.dumps(pairs['dropped'])}")
    print("samples: " + ", ".join(f"{name} {info['samples']}" for name, info in splits.items()))
    print(f"vocabulary: {vocab['size']} tokens, coverage " +
          ", ".join(f"{name} {value:.1%}" for name, value in vocab["coverage"].items()))
    print(f"done in {stats['seconds']:.1f} s ({stats['pairs_per_second']:.0f} pairs/s); stats in {out}/stats.json")
    print(out)
    return 0


def run_train(args: argparse.Namespace) -> int:
    """``deepqa train``: train a model on a prepared dataset into a run directory."""
    from deepqa.data.prepare import prepare
    from deepqa.files import SAMPLES_FILE
    from deepqa.train.setup import new_training, ranker_training, resumed_training

    if args.only == "ranker":
        if not args.resume:
            raise ConfigError("--only ranker adds or retrains the ranker of an existing run: name it with --resume RUN")
        config, dataset, run_dir = ranker_training(args.resume, args.overrides, args.data)
        return _train_ranker(config, dataset, run_dir)
    if args.resume:
        trainer = resumed_training(args.resume, args.overrides, args.data)
    else:
        config = _load(args)
        data_dir = Path(args.data or config.corpus.dataset_dir)
        if args.prepare_if_missing and not (data_dir / SAMPLES_FILE).is_file():
            print(f"no dataset at {data_dir}: preparing it first", flush=True)
            prepare(copy.deepcopy(config), data_dir)
        trainer = new_training(config, str(data_dir), args.run_name, args.overrides)
    print(f"training {trainer.config.model.type} ({trainer.model.count_params():,} parameters) "
          f"into {trainer.run_dir}", flush=True)
    metrics = trainer.fit()
    print(f"{metrics['stopped']} after {metrics['epochs_completed']} epochs; best validation loss "
          f"{metrics['best_val_loss']:.4f} at epoch {metrics['best_epoch']}")
    if trainer.config.ranker.enabled and trainer.chief:
        return _train_ranker(trainer.config, trainer.dataset, trainer.run_dir)
    print(trainer.run_dir)
    return 0


def _train_ranker(config, dataset, run_dir) -> int:
    """Train the ranker into ``run_dir`` and print its figures and, last, the run directory."""
    from deepqa.ranker.training import train_ranker

    LOG.info(f"training the {config.ranker.encoder} ranker into {run_dir}")
    metrics = train_ranker(config, dataset, Path(run_dir))
    print(f"ranker: {metrics['stopped']}; best validation 1-in-10 R@1 {metrics['best_val_recall_at_1']:.3f}; "
          f"{metrics['index_size']:,} answers indexed")
    print(run_dir)
    return 0


def run_tune(args: argparse.Namespace) -> int:
    """``deepqa tune``: search the architecture, then train the best configuration into a run bundle."""
    from deepqa.train.setup import adopt_dataset
    from deepqa.train.tuning import describe_results, distributed_role, make_tuner, retrain_best, search, summary_text

    config = _load(args)
    dataset = adopt_dataset(config, args.data, args.overrides)
    distributed_role(args.chief, args.worker, args.tuner_id, config)
    tuner = make_tuner(config, dataset)
    print(summary_text(tuner), flush=True)
    search(tuner, config.tuner.chief_timeout_minutes, args.chief)
    if args.worker:
        print("this worker has no more trials to run; the chief reports the results", flush=True)
        return 0
    print(describe_results(tuner), flush=True)
    run_dir = retrain_best(tuner, config, dataset, args.run_name)
    print(f"the best configuration, retrained on train + valid, is in {run_dir}")
    print(run_dir)
    return 0


def _run_options() -> argparse.ArgumentParser:
    """Options of the commands that use a trained run."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--run", metavar="RUN_DIR", default="save/latest",
                        help="run directory to use (default: save/latest, the newest run)")
    parent.add_argument("--weights", choices=("best", "last"), default="best",
                        help="the weights of the lowest validation loss (best, default) or of the last epoch")
    parent.add_argument("--config", metavar="PATH",
                        help="the deployment's config file, whose [decode], [eval] and [serve] apply (default: "
                             "./config.ini, else the project's); the run's other settings stay as trained")
    parent.add_argument("--set", dest="overrides", metavar="SECTION.KEY=VALUE", action="append", default=[],
                        help="override a [decode], [eval] or [serve] setting, e.g. --set decode.strategy=sample "
                             "(applied last; DEEPQA_<SECTION>_<KEY> environment variables come just before)")
    parent.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error")
    return parent


def _load_bot(args: argparse.Namespace):
    from deepqa.inference.chatbot import Chatbot

    return Chatbot.load(args.run, args.weights, args.config, args.overrides, os.environ)


def run_chat(args: argparse.Namespace) -> int:
    """``deepqa chat``: talk to a trained run."""
    from deepqa.inference.chat import run_chat as chat

    bot = _load_bot(args)
    return chat(bot, bot.config.decode, args.question)


def run_evaluate(args: argparse.Namespace) -> int:
    """``deepqa evaluate``: measure a trained run."""
    from deepqa.evaluate.evaluation import evaluate, format_table, write_report

    bot = _load_bot(args)
    report = evaluate(bot, args.candidates, args.data)
    path = write_report(bot, report, args.out)
    print(format_table(report))
    print(path)
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """``deepqa serve``: the HTTP API and chat page, on a production WSGI server."""
    from serve.app import app_for_run
    from serve.shutdown import DrainingServer

    from deepqa.config import load_config, load_deployment
    from deepqa.files import CONFIG_FILE, resolve_run

    # The address is checked before the model is loaded: a port in use is reported at once.
    settings = load_deployment(load_config(resolve_run(args.run) / CONFIG_FILE), args.config, args.overrides,
                               os.environ).serve
    host, port = args.host or settings.host, args.port or settings.port
    show_messages(json_lines=settings.log_format == "json")
    check_address_free(host, port)
    LOG.info(f"loading {args.run} and compiling generation for every batch size")
    app = app_for_run(args.run, args.weights, args.overrides, args.config, os.environ)
    state = app.extensions["deepqa"]
    server = DrainingServer(app, host, port, settings.threads, settings.max_body_bytes, settings.shutdown_timeout_s,
                            state.close)
    LOG.info(f"serving {state.model_name} on http://{host}:{port}/ (API at /api/v1, press Ctrl-C to stop)")
    server.run()
    LOG.info("stopped: every request received was answered")
    return 0


def run_export_log(args: argparse.Namespace) -> int:
    """``deepqa export-log``: stored exchanges as a JSON Lines corpus that `deepqa prepare` reads."""
    from deepqa import atomic
    from serve.store import ConversationStore

    config = _load(args)
    database = args.database or config.serve.database
    if "://" not in database and not Path(database).is_file():
        from deepqa.errors import DatasetError

        raise DatasetError(f"no conversation database at {database!r}; serve a model first or pass --database")
    store = ConversationStore(database)
    try:
        rows = store.exchanges(args.min_rating)
    finally:
        store.close()
    lines = [json.dumps({"turns": [*row["context"], row["question"], row["answer"]]}, ensure_ascii=False)
             for row in rows]
    atomic.write_text(args.out, "".join(line + "\n" for line in lines))
    print(f"{len(lines)} exchanges written; prepare them with --set corpus.format=jsonl --set corpus.path={args.out}")
    print(args.out)
    return 0


def port_number(text: str) -> int:
    """A TCP port given on the command line: an integer from 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1 to 65535)")
    return port


def check_address_free(host: str, port: int) -> None:
    """Raise a one-line error when ``host:port`` cannot be listened on (in use, or not an address here)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
    family, kind, _, _, address = infos[0]
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``deepqa`` and its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="deepqa",
        description="Train, tune, evaluate and serve seq2seq generative chatbots. "
                    "Stages: prepare (corpus → dataset) → train / tune (dataset → run bundle) → chat / evaluate / serve.",
        epilog="Run `deepqa COMMAND --help` for the options of a command. Every setting lives in config.ini.",
    )
    parser.add_argument("--version", action="version", version=f"deepqa {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    prepare = commands.add_parser(
        "prepare", parents=[_config_options()], help="read a corpus and write a dataset (vocabulary + samples)",
        description="Read the corpus named in [corpus] (or the blend in [corpus] sources), normalize and tokenize "
                    "it, build the vocabulary from the training split and write the dataset folder: vocab.json, "
                    "samples.npz, the tokenizer model if any, stats.json and the effective config.ini. "
                    "The last line printed is the dataset folder.",
    )
    prepare.add_argument("--out", metavar="DIR", help="dataset folder to write (default: [corpus] dataset_dir)")
    prepare.set_defaults(handler=run_prepare)
    train = commands.add_parser(
        "train", parents=[_config_options()], help="train a model on a prepared dataset into a run directory",
        description="Train the encoder-decoder of [model] on a prepared dataset, following [train]. The run "
                    "directory (save/<host>.<date-time> by default) gets the config, vocabulary, tokenizer, best and "
                    "last weights, metrics.json and TensorBoard logs; save/latest points to it. The last line "
                    "printed is the run directory.",
    )
    train.add_argument("--data", metavar="DIR", help="prepared dataset folder (default: [corpus] dataset_dir)")
    which = train.add_mutually_exclusive_group()
    which.add_argument("--run-name", metavar="NAME", help="name of the new run directory inside [train] save_dir")
    which.add_argument("--resume", metavar="RUN_DIR",
                       help="continue an interrupted run after its last completed epoch (only [train] may be --set)")
    train.add_argument("--only", choices=("ranker",),
                       help="train only the ranker, into the existing run named by --resume ([ranker] may be --set)")
    train.add_argument("--prepare-if-missing", action="store_true",
                       help="run `deepqa prepare` first when the dataset folder has no samples")
    train.set_defaults(handler=run_train)
    tune = commands.add_parser(
        "tune", parents=[_config_options()], help="search depth and width with keras-tuner, then train the best",
        description="Search model type, depth, width, dropout and learning rate within the ranges of [tuner], "
                    "training each trial like `deepqa train`. Configurations over the parameter or memory budget are "
                    "skipped, failed trials recorded, and an interrupted search resumes (unless tuner.overwrite). "
                    "The results table is printed and saved as CSV and JSON; the best configuration is retrained on "
                    "train + valid into a run bundle, whose path is the last line printed. For several machines, run "
                    "one --chief and any number of --worker processes with the same config and dataset.",
    )
    tune.add_argument("--data", metavar="DIR", help="prepared dataset folder (default: [corpus] dataset_dir)")
    tune.add_argument("--run-name", metavar="NAME", help="name of the final run directory inside [train] save_dir")
    role = tune.add_mutually_exclusive_group()
    role.add_argument("--chief", action="store_true",
                      help="serve the search's oracle at [tuner] oracle_ip:oracle_port; workers run the trials")
    role.add_argument("--worker", action="store_true", help="run trials for the chief at [tuner] oracle_ip:oracle_port")
    tune.add_argument("--tuner-id", metavar="ID", help="this worker's name (default: worker-<pid>)")
    tune.set_defaults(handler=run_tune)
    serve = commands.add_parser(
        "serve", parents=[_run_options()], help="serve a trained run over HTTP (API and chat page)",
        description="Serve a trained run with a production WSGI server (waitress): POST /api/v1/question, "
                    "/api/v1/feedback, GET /api/v1/health (liveness), /api/v1/ready, /api/v1/model, "
                    "/api/v1/openapi.json, /metrics (Prometheus), and a chat page at /. Every graph a request can "
                    "reach is compiled before the server answers; concurrent questions are decoded in batches; every "
                    "exchange is stored in [serve] database (a SQLite file, or a database URL such as "
                    "postgresql+psycopg://... that several replicas share, sessions included); rate limits count in "
                    "[serve] rate_limit_storage (memory://, or redis://... shared by replicas). SIGTERM or Ctrl-C "
                    "drains: requests already received are answered before it exits.",
    )
    serve.add_argument("--host", help="address to listen on (default: [serve] host, 127.0.0.1)")
    serve.add_argument("--port", type=port_number, help="port, 1 to 65535 (default: [serve] port, 8000)")
    serve.set_defaults(handler=run_serve)
    export = commands.add_parser(
        "export-log", parents=[_config_options()], help="write stored exchanges as a corpus to retrain on",
        description="Write the exchanges stored by `deepqa serve` as JSON Lines ({\"turns\": [...]}), the jsonl "
                    "corpus format of `deepqa prepare`, optionally only those rated at least --min-rating.",
    )
    export.add_argument("--out", required=True, metavar="FILE", help="the JSON Lines file to write")
    export.add_argument("--min-rating", type=int, metavar="N", help="only exchanges whose ratings sum to at least N")
    export.add_argument("--database", metavar="PATH_OR_URL",
                        help="the conversation database, a SQLite file or a database URL (default: [serve] database)")
    export.set_defaults(handler=run_export_log)
    chat = commands.add_parser(
        "chat", parents=[_run_options()], help="talk to a trained run in the console",
        description="Talk to a trained run. Interactive on a terminal, with multi-turn context and commands "
                    "(/reset, /strategy, /set, /help); with --question, answer once and exit; with lines piped on "
                    "standard input, answer each line on one line.",
    )
    chat.add_argument("--question", metavar="TEXT", help="answer this one question and exit")
    chat.set_defaults(handler=run_chat)
    evaluate = commands.add_parser(
        "evaluate", parents=[_run_options()], help="measure a trained run: recall@k against TF-IDF, BLEU, ...",
        description="Response selection (1-in-2 R@1, 1-in-10 R@1/2/5) of the model beside a TF-IDF baseline and "
                    "chance, on a candidates file or on cases built from the test split; then perplexity, BLEU, "
                    "distinct-1/2, reply length and the most frequent reply on the test split. Writes report.json "
                    "(its path is the last line printed) and the figures to the run's TensorBoard.",
    )
    evaluate.add_argument("--candidates", metavar="FILE.jsonl",
                          help='cases, one per line: {"context": [...], "response": "...", "distractors": [...]}')
    evaluate.add_argument("--data", metavar="DIR", help="the run's dataset, if it has moved")
    evaluate.add_argument("--out", metavar="FILE", help="report path (default: RUN_DIR/report.json)")
    evaluate.set_defaults(handler=run_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepqa`` console script; returns the exit status."""
    show_messages()
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_tensorflow()  # TensorFlow's start-up chatter is not for users
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except DeepQAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # the reader of our output went away (`deepqa ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # the machine's fault, not the program's: full or read-only disk, a folder for a file
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted; files already written are complete, nothing half-written was left", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # an unexpected failure: a short message unless --debug asks for more
        if getattr(args, "debug", False):
            raise
        print(f"error: unexpected {exc.__class__.__name__}: {exc} (run again with --debug for the traceback)",
              file=sys.stderr)
        return 1
