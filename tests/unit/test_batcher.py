"""The request batcher on its own: how it groups questions, with a stand-in for the model."""

import threading

import pytest

from deepqa.config import DecodeConfig
from deepqa.inference.decoding import compiled_batch_sizes, padded_batch_size
from serve.batcher import QueueFull, RequestBatcher

LONG_WAIT_MS = 600_000  # far longer than any test may run: a batch that waited for it would hang the test


class RecordingModel:
    """Answers each question with its upper-case text and records the batch sizes; can be held busy."""

    def __init__(self):
        self.sizes: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()

    def __call__(self, jobs):
        self.sizes.append(len(jobs))
        self.started.set()
        self.release.wait()
        return [job.question.upper() for job in jobs]


def test_compiled_batch_sizes_pad_by_at_most_a_third():
    assert compiled_batch_sizes(16) == [1, 2, 3, 4, 6, 8, 12, 16]
    assert compiled_batch_sizes(10) == [1, 2, 3, 4, 6, 8, 12]
    for rows in range(1, 65):
        padded = padded_batch_size(rows)
        assert rows <= padded and 3 * rows > 2 * padded  # padding is under a third of the batch


def test_a_lone_question_is_answered_without_waiting():
    model = RecordingModel()
    batcher = RequestBatcher(model, max_batch=16, max_wait_ms=LONG_WAIT_MS, max_queue=8,
                             batch_size_for=padded_batch_size)
    assert batcher.submit("hello", None, DecodeConfig()).result(timeout=60) == "HELLO"
    batcher.close()
    assert model.sizes == [1]


def test_a_cancelled_question_is_neither_decoded_nor_answered():
    model = RecordingModel()
    batcher = RequestBatcher(model, max_batch=16, max_wait_ms=0, max_queue=8)
    model.release.clear()
    first = batcher.submit("first", None, DecodeConfig())
    assert model.started.wait(timeout=60)
    given_up, kept = batcher.submit("given up", None, DecodeConfig()), batcher.submit("kept", None, DecodeConfig())
    assert given_up.cancel()
    model.release.set()
    assert first.result(timeout=60) == "FIRST" and kept.result(timeout=60) == "KEPT"
    batcher.close()
    assert model.sizes == [1, 1] and batcher.questions == 2 and given_up.cancelled()


def test_questions_queued_during_a_batch_form_the_next_one_filled_to_its_compiled_size():
    model = RecordingModel()
    batcher = RequestBatcher(model, max_batch=16, max_wait_ms=LONG_WAIT_MS, max_queue=64,
                             batch_size_for=padded_batch_size)
    model.release.clear()
    first = batcher.submit("first", None, DecodeConfig())
    assert model.started.wait(timeout=60)
    queued = [batcher.submit(f"q{i}", None, DecodeConfig()) for i in range(5)]
    model.release.set()
    sixth = batcher.submit("q5", None, DecodeConfig())  # five would be padded to six: the batch waits for it
    assert first.result(timeout=60) == "FIRST"
    assert [future.result(timeout=60) for future in queued + [sixth]] == [f"Q{i}" for i in range(6)]
    batcher.close()
    assert model.sizes == [1, 6]


def test_a_batch_waits_for_requests_already_received_and_not_yet_queued():
    model = RecordingModel()
    batcher = RequestBatcher(model, max_batch=16, max_wait_ms=LONG_WAIT_MS, max_queue=64)  # no padding
    model.release.clear()
    first = batcher.submit("first", None, DecodeConfig())
    assert model.started.wait(timeout=60)
    queued = batcher.submit("q0", None, DecodeConfig())
    reading, read = threading.Event(), threading.Event()
    late = []

    def request_being_read():
        with batcher.request(), batcher.arriving():
            reading.set()
            assert read.wait(timeout=60)
            late.append(batcher.submit("q1", None, DecodeConfig()))

    thread = threading.Thread(target=request_being_read)
    thread.start()
    assert reading.wait(timeout=60)
    model.release.set()
    assert first.result(timeout=60) == "FIRST"
    read.set()  # the next batch holds q0 and waited for q1, whose request was being read
    thread.join(timeout=60)
    assert queued.result(timeout=60) == "Q0" and late[0].result(timeout=60) == "Q1"
    alone = batcher.submit("alone", None, DecodeConfig())  # nothing arriving: no wait
    assert alone.result(timeout=60) == "ALONE"
    batcher.close()
    assert model.sizes == [1, 2, 1]


def test_a_batch_waits_for_clients_that_were_in_the_server_at_once_lately():
    import contextlib

    model = RecordingModel()
    batcher = RequestBatcher(model, max_batch=16, max_wait_ms=LONG_WAIT_MS, max_queue=64)
    with contextlib.ExitStack() as clients:
        for _ in range(4):  # four clients' requests in the server at once
            clients.enter_context(batcher.request())
        first = [batcher.submit(f"q{i}", None, DecodeConfig()) for i in range(2)]
        later = [batcher.submit(f"q{i}", None, DecodeConfig()) for i in range(2, 4)]
        assert [future.result(timeout=60) for future in first + later] == ["Q0", "Q1", "Q2", "Q3"]
    assert model.sizes == [4]  # the first two waited for the other two
    batcher.CONCURRENCY_WINDOW_S = 0  # once the concurrency seen is old, a lone question goes at once
    assert batcher.submit("alone", None, DecodeConfig()).result(timeout=60) == "ALONE"
    batcher.close()
    assert model.sizes == [4, 1]


def test_batches_keep_to_max_batch_and_split_by_decoding_options():
    model = RecordingModel()
    batcher = RequestBatcher(model, max_batch=4, max_wait_ms=0, max_queue=64)
    model.release.clear()
    futures = [batcher.submit("first", None, DecodeConfig())]
    assert model.started.wait(timeout=60)
    greedy = DecodeConfig(strategy="greedy")
    futures += [batcher.submit(f"q{i}", None, greedy if i % 2 else DecodeConfig()) for i in range(6)]
    model.release.set()
    assert [future.result(timeout=60) for future in futures] == ["FIRST"] + [f"Q{i}" for i in range(6)]
    batcher.close()
    assert model.sizes == [1, 2, 2, 1, 1]


def test_a_full_queue_refuses_and_a_failed_batch_reports_to_each_question():
    def failing(jobs):
        raise RuntimeError("decoder broke")

    model = RecordingModel()
    model.release.clear()
    batcher = RequestBatcher(model, max_batch=2, max_wait_ms=0, max_queue=1)
    batcher.submit("busy", None, DecodeConfig())
    assert model.started.wait(timeout=60)
    batcher.submit("waiting", None, DecodeConfig())
    with pytest.raises(QueueFull):
        batcher.submit("one too many", None, DecodeConfig())
    model.release.set()
    batcher.close()
    broken = RequestBatcher(failing, max_batch=2, max_wait_ms=0, max_queue=4)
    with pytest.raises(RuntimeError, match="decoder broke"):
        broken.submit("hello", None, DecodeConfig()).result(timeout=60)
    broken.close()
