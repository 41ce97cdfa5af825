"""Serving under load: `deepqa serve` on 127.0.0.1 driven by 1 and by 16 concurrent clients (each on one
kept-alive connection) for a fixed time, with request batching on and off in the same run. Prints one
JSON line: requests per second, p50 and p99 latency, errors, the mean batch, and the server's peak
memory; beside them, the replies per second and CPU time per reply of the decoder alone (no HTTP) one
question and 16 questions at a time, the most batching could gain on this machine; and, on the batching
server, an attack of 12 clients with distinct unusual decoding values beside 4 normal clients (the normal
clients' p99, and the server's memory growth); with ``--replicas N``, N servers sharing one PostgreSQL
database beside the one with SQLite. Targets with 16 clients: at least 85 % of the decoder-alone batch-16
replies per second (on a GPU: batching at least 3x no batching), zero errors, p99 under 1 s for the
`quick` model.

    python -m benchmarks.serve_load [--quick] [--run RUN_DIR] [--strategy greedy|beam|sample]
                                    [--mode auto|generate|rank|hybrid] [--replicas N]
                                    [--set decode.KEY=VALUE ...]

Without --run, a `quick`-sized model is built untrained in a temporary run directory from the quick
dataset: it never ends a reply early, so every reply takes the longest decoding (the worst case).
`--strategy` decodes with another strategy than the run's default, `--mode` replies in another mode
(rank and hybrid need a run with a ranker).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

from benchmarks.common import PROJECT_ROOT

QUESTIONS = ["hello!", "how are you?", "what do you do for fun?", "where are you from?", "do you like music?",
             "what did you do today?", "tell me about your family.", "what is your favorite food?"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def untrained_quick_run(folder: Path, data_dir: Path) -> Path:
    """A run directory holding a quick-sized model with its initial weights."""
    from deepqa.config import load_config
    from deepqa.data.dataset import Dataset
    from deepqa.models import build_model
    from deepqa.data.prepare import prepare
    from deepqa.files import BEST_WEIGHTS
    from deepqa.train.run_bundle import create_run
    from deepqa.train.setup import DATA_SECTIONS

    if not (data_dir / "samples.npz").is_file():
        prepare(load_config(None, "quick"), data_dir)
    dataset = Dataset.load(data_dir)
    config = load_config(None, "quick", [f"train.save_dir={folder}"])
    for section in DATA_SECTIONS:
        setattr(config, section, getattr(dataset.config, section))
    run_dir = create_run(config, dataset, "quick-untrained")
    build_model(config, len(dataset.vocabulary)).save_weights(run_dir / BEST_WEIGHTS)
    return run_dir


def _rss_mib(pid: int, field: str = "VmHWM") -> float:
    """The process' peak (``VmHWM``) or current (``VmRSS``) resident memory in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


UNUSUAL = [{"beam_width": width, "temperature": 0.3 + width / 10, "top_k": width * 7, "num_answers": 1}
           for width in range(5, 17)]


def attack(url: str, seconds: float, pid: int) -> dict:
    """12 hostile clients, each sending a distinct unusual decoding (beam widths 5 to 16, odd temperatures and
    top_k), beside 4 normal clients: the normal clients' p99, how the hostile requests were answered, and
    how much the server's memory grew."""
    before = _rss_mib(pid, "VmRSS")
    statuses: list[int] = []
    stop = threading.Event()

    def hostile(decoding: dict):
        while not stop.is_set():
            request = urllib.request.Request(url, data=json.dumps({"question": "hello", "decoding": decoding}).encode(),
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as reply:
                    statuses.append(reply.status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
            except OSError:
                statuses.append(0)

    threads = [threading.Thread(target=hostile, args=(d,)) for d in UNUSUAL]
    for thread in threads:
        thread.start()
    normal = drive(url, 4, seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return {"normal_clients_4": normal, "hostile_requests": len(statuses),
            "hostile_statuses": {str(code): statuses.count(code) for code in sorted(set(statuses))},
            "memory_growth_mib": round(_rss_mib(pid, "VmRSS") - before, 1)}


class Client:
    """One user of the API on one kept-alive HTTP connection (reopened after an error), as a browser or
    an HTTP session object would keep it."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path
        self.connection: http.client.HTTPConnection | None = None

    def ask(self, question: str) -> tuple[bool, float]:
        """Whether the question got an answer, and how long it took."""
        body = json.dumps({"question": question})
        started = time.perf_counter()
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.connection.request("POST", self.path, body=body, headers={"Content-Type": "application/json"})
            reply = self.connection.getresponse()
            ok = reply.status == 200 and "answer" in json.loads(reply.read())
        except (http.client.HTTPException, OSError, ValueError):
            self.close()
            ok = False
        return ok, time.perf_counter() - started

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _ready(question_url: str) -> dict:
    with urllib.request.urlopen(question_url.replace("/question", "/ready"), timeout=30) as reply:
        return json.loads(reply.read())


def drive(url: str | list[str], clients: int, seconds: float) -> dict:
    """Requests per second, latency percentiles and errors of ``clients`` looping clients (given several
    servers' URLs, client ``i`` asks the ``i``-th in turn, as a load balancer would spread them)."""
    urls = [url] if isinstance(url, str) else url
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(index: int):
        user, turn = Client(urls[index % len(urls)]), index
        while time.perf_counter() < deadline:
            ok, latency = user.ask(QUESTIONS[turn % len(QUESTIONS)])
            turn += 1
            with lock:
                latencies.append(latency) if ok else None
                errors[0] += 0 if ok else 1
        user.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    values = np.array(latencies) * 1000 if latencies else np.zeros(1)
    return {"requests_per_second": round(len(latencies) / elapsed, 2), "p50_ms": round(float(np.percentile(values, 50)), 1),
            "p99_ms": round(float(np.percentile(values, 99)), 1), "errors": errors[0], "requests": len(latencies)}


def start_server(run_dir: Path, database: str | Path, settings: list[str]) -> tuple[subprocess.Popen, str]:
    """`deepqa serve` for ``run_dir`` with ``settings`` on a free port, once it answers; its process and
    question URL."""
    port = _free_port()
    command = [sys.executable, "-m", "deepqa", "serve", "--run", str(run_dir), "--port", str(port),
               "--set", f"serve.database={database}", "--set", "serve.max_queue=1024",
               *sum((["--set", s] for s in settings), [])]
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/v1/question"
    probe = Client(url)
    for _ in range(600):
        if probe.ask("hello")[0] or server.poll() is not None:
            break
        time.sleep(0.5)
    probe.close()
    return server, url


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=60)


BATCHING = ["serve.max_batch=16", "serve.max_wait_ms=10"]


def measure(run_dir: Path, database: Path, batching: bool, seconds: float, decoding: list[str]) -> dict:
    """Start a server (batching on or off), warm it up, drive it with 1 and 16 clients."""
    settings = BATCHING if batching else ["serve.max_batch=1", "serve.max_wait_ms=0"]
    server, url = start_server(run_dir, database, settings + decoding)
    try:
        drive(url, 16, min(seconds, 20))  # warm-up
        result = {"clients_1": drive(url, 1, seconds)}
        before = _ready(url)
        result["clients_16"] = drive(url, 16, seconds)
        after = _ready(url)
        result["clients_16"]["mean_batch"] = round((after["questions"] - before["questions"])
                                                   / max(after["batches"] - before["batches"], 1), 2)
        if batching:
            result["attack"] = attack(url, seconds, server.pid)
        result["server_peak_mib"] = _rss_mib(server.pid)
        return result
    finally:
        stop(server)


def measure_replicas(run_dir: Path, replicas: int, seconds: float, decoding: list[str]) -> dict:
    """``replicas`` batching servers sharing one throwaway PostgreSQL database, driven by 16 clients spread
    over them."""
    from tests.services import PostgresServer

    reason = PostgresServer.missing_reason()
    if reason:
        return {"skipped": reason}
    with PostgresServer() as database:
        servers = [start_server(run_dir, database.url, BATCHING + decoding) for _ in range(replicas)]
        try:
            urls = [url for _, url in servers]
            drive(urls, 16, min(seconds, 20))  # warm-up
            return {"replicas": replicas, "database": "postgresql", "clients_16": drive(urls, 16, seconds)}
        finally:
            for server, _ in servers:
                stop(server)


def decoder_alone(run_dir: Path, overrides: list[str], seconds: float) -> dict:
    """Replies per second of the decoder itself, in this process, one question at a time and 16 at a time
    (the most that batching could gain before any HTTP work), and the CPU time each reply costs: where a
    batch costs as much CPU per reply as one question, batching can gain no more than the cores that one
    question leaves idle."""
    from deepqa.inference.chatbot import Chatbot

    bot = Chatbot.load(run_dir, overrides=overrides)  # the server's decoding, as `--set` gives it
    options = bot.check_options(bot.config.decode)
    figures = {}
    for size in (1, 16):
        turns = itertools.cycle(QUESTIONS)  # every question in turn, as the clients ask them
        bot.reply_batch([("hello", None)] * size, options)  # compile
        replies, started, cpu_started = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - started < seconds / 2:
            replies += len(bot.reply_batch([(next(turns), None) for _ in range(size)], options))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        figures[f"batch_{size}"] = {"replies_per_second": round(replies / elapsed, 1),
                                    "cpu_ms_per_reply": round(1000 * cpu / replies, 2)}
    figures["ratio"] = round(figures["batch_16"]["replies_per_second"] / figures["batch_1"]["replies_per_second"], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--run", help="a trained run to serve (default: an untrained quick-sized model)")
    parser.add_argument("--data", default="data/chitchat-quick", help="dataset of the quick profile (made if missing)")
    parser.add_argument("--strategy", choices=["greedy", "beam", "sample"],
                        help="the server's decoding strategy (default: the run's [decode] strategy)")
    parser.add_argument("--mode", choices=["auto", "generate", "rank", "hybrid"],
                        help="the server's reply mode (default: the run's [decode] mode)")
    parser.add_argument("--replicas", type=int, default=0, metavar="N",
                        help="also serve with N replicas sharing one PostgreSQL database (Debian's postgresql)")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="decode.KEY=VALUE",
                        help="another [decode] setting of the server, e.g. decode.hybrid_samples=0 (repeatable)")
    args = parser.parse_args()
    if any(not item.startswith("decode.") for item in args.overrides):
        parser.error("--set takes [decode] settings only (decode.KEY=VALUE)")
    seconds = 8 if args.quick else 20
    decoding = [f"decode.strategy={args.strategy}"] if args.strategy else []
    decoding += [f"decode.mode={args.mode}"] if args.mode else []
    decoding += args.overrides
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(args.run) if args.run else untrained_quick_run(Path(folder), Path(args.data))
        from deepqa.config import load_config

        settings = load_config(run_dir / "config.ini", None, decoding).decode
        batched = measure(run_dir, Path(folder) / "batched.sqlite3", True, seconds, decoding)
        unbatched = measure(run_dir, Path(folder) / "unbatched.sqlite3", False, seconds, decoding)
        alone = decoder_alone(run_dir, decoding, seconds)
        replicated = measure_replicas(run_dir, args.replicas, seconds, decoding) if args.replicas else None
    ratio = batched["clients_16"]["requests_per_second"] / max(unbatched["clients_16"]["requests_per_second"], 1e-9)
    print(json.dumps({"benchmark": "serve_load", "model": "trained" if args.run else "untrained quick-sized",
                      "decoding": {"mode": settings.mode, "strategy": settings.strategy,
                                   "beam_width": settings.beam_width},
                      "seconds_per_figure": seconds, "batching": batched,
                      "no_batching": unbatched, "ratio_16_clients": round(ratio, 2),
                      "decoder_alone": alone,
                      "share_of_decoder_batch_16": round(batched["clients_16"]["requests_per_second"]
                                                         / alone["batch_16"]["replies_per_second"], 2),
                      **({"replicated": replicated} if replicated else {}), "cpu_cores": os.cpu_count(),
                      "targets": {"share_of_decoder_batch_16": ">= 0.85", "ratio_16_clients (GPU)": ">= 3",
                                  "errors": 0, "p99_ms_16_clients": "< 1000",
                                  "attack_normal_p99_ms": "< 1000", "attack_memory_growth_mib": "< 50"}}))


if __name__ == "__main__":
    main()
