"""The real WSGI server, started by `deepqa serve` on a free port and called over HTTP: answers,
concurrency, a kill -9 mid-traffic that loses no committed exchange, and the chat page in Chromium."""

import http.client
import json
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import PROJECT_ROOT
from tests.integration.servers import ENV, Server, call, deepqa_serve, run, waitress_serve  # noqa: F401 (run: a fixture)
from tests.services import free_ports

pytestmark = pytest.mark.integration


def test_real_server_answers_over_http(run, tmp_path):
    server = Server(deepqa_serve(run, tmp_path / "db.sqlite3"))
    try:
        status, body = call(server.url + "/api/v1/question", {"question": "question 2 about 2?"})
        assert status == 200 and isinstance(body["answer"], str) and body["model"] == "tiny"
        assert call(server.url + "/api/v1/question", {"question": ""})[0] == 400
        assert call(server.url + "/api/v1/openapi.json")[1]["openapi"].startswith("3.")
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(
            call(server.url + "/api/v1/question", {"question": f"question {i} about {i % 5}?"})[0])) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200] * 12
        with urllib.request.urlopen(server.url + "/", timeout=10) as page:
            assert b'src="/static/chat.js"' in page.read()
        with urllib.request.urlopen(server.url + "/static/chat.js", timeout=10) as script:
            assert b"/api/v1/question" in script.read()
    finally:
        server.stop()


def raw_request(port, data: bytes) -> tuple[int, str, bytes]:
    """Send raw bytes; the status, content type and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers.get("Content-Type", ""), body


def test_the_wsgi_servers_own_errors_are_json(run, tmp_path):
    server = Server(deepqa_serve(run, tmp_path / "db.sqlite3", "--set", "serve.max_body_bytes=1024"))
    try:
        oversize = (b"POST /api/v1/question HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 5000\r\n\r\n" + b"x" * 5000)
        bad_header = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n"
        for data, status in ((oversize, 413), (bad_header, 400)):
            code, content_type, body = raw_request(server.port, data)
            assert code == status and content_type == "application/json", body
            assert json.loads(body)["error"]["message"]
    finally:
        server.stop()


def test_wsgi_application_under_waitress_serve(run, tmp_path):
    env = {**ENV, "DEEPQA_RUN": str(run), "DEEPQA_SET": f"serve.database={tmp_path / 'db.sqlite3'}; decode.strategy=greedy"}
    server = Server(waitress_serve, env)
    try:
        status, body = call(server.url + "/api/v1/question", {"question": "question 2 about 2?"})
        assert status == 200 and body["model"] == "tiny"
        assert call(server.url + "/api/v1/model")[1]["decoding"]["strategy"] == "greedy"
    finally:
        server.stop()
    stored = sqlite3.connect(tmp_path / "db.sqlite3").execute("SELECT question FROM exchanges").fetchall()
    assert stored == [("question 2 about 2?",)]


def test_deployment_config_and_environment_choose_the_run_time_settings(run, tmp_path):
    deploy = tmp_path / "deploy.ini"
    deploy.write_text(f"[serve]\ndatabase = {tmp_path / 'deploy.sqlite3'}\nrate_limit_per_minute = 500\n"
                      "[decode]\nstrategy = greedy\nmax_length = 3\n", encoding="utf-8")
    env = {**ENV, "DEEPQA_SERVE_API_KEY": "s3cret"}
    server = Server(lambda port: [sys.executable, "-m", "deepqa", "serve", "--run", str(run), "--port", str(port),
                                  "--config", str(deploy)], env)
    try:
        assert call(server.url + "/api/v1/question", {"question": "question 2 about 2?"})[0] == 401
        request = urllib.request.Request(server.url + "/api/v1/model", headers={"Authorization": "Bearer s3cret"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            decoding = json.loads(reply.read())["decoding"]
        assert decoding["strategy"] == "greedy" and decoding["max_length"] == 3
        assert decoding["xla"] is False  # not in deploy.ini: the run's own decoding applies
    finally:
        server.stop()
    assert (tmp_path / "deploy.sqlite3").is_file()


def test_serve_refuses_a_bad_port_and_a_port_in_use_before_loading(run):
    bad = subprocess.run([sys.executable, "-m", "deepqa", "serve", "--run", str(run), "--port", "70000"],
                         cwd=PROJECT_ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "not a port number" in bad.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run([sys.executable, "-m", "deepqa", "serve", "--run", str(run), "--port", str(port)],
                              cwd=PROJECT_ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert busy.returncode == 2 and f"cannot serve on 127.0.0.1:{port}" in busy.stderr
    assert "loading" not in busy.stdout and len(busy.stderr.strip().splitlines()) == 1


def test_wsgi_application_without_a_run_exits_with_a_message(tmp_path):
    env = {**ENV, "DEEPQA_RUN": str(tmp_path / "missing")}
    result = subprocess.run(waitress_serve(free_ports()[0]), cwd=PROJECT_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "error: " in result.stderr and "Traceback" not in result.stderr


def test_kill_9_mid_traffic_loses_no_committed_exchange(run, tmp_path):
    database = tmp_path / "db.sqlite3"
    server = Server(deepqa_serve(run, database))
    answered, stop = [], threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                status, body = call(server.url + "/api/v1/question", {"question": "question 1 about 1?"}, timeout=60)
                if status == 200:
                    answered.append(body["exchange_id"])
            except (OSError, http.client.HTTPException, ValueError):  # the server was killed under this request
                return

    threads = [threading.Thread(target=traffic) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.time() + 120
    while len(answered) < 8 and time.time() < deadline:  # the first replies wait for compilation
        time.sleep(0.2)
    server.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join()
    assert answered
    connection = sqlite3.connect(database)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {row[0] for row in connection.execute("SELECT id FROM exchanges")}
    assert set(answered) <= stored


def test_sigterm_under_traffic_answers_and_stores_every_request_received(run, tmp_path):
    """SIGTERM stops new connections, but each request the server has received is answered and stored, the
    store is closed and the exit status is 0."""
    database = tmp_path / "db.sqlite3"
    server = Server(deepqa_serve(run, database, "--set", "serve.shutdown_timeout_s=60"))
    answered, finished_at, refused, stop = [], [], [], threading.Event()

    def traffic(index):
        while not stop.is_set():
            try:
                status, body = call(server.url + "/api/v1/question", {"question": f"question {index} about 1?"},
                                    timeout=120)
            except (OSError, http.client.HTTPException):  # not received: the listening socket was closed
                return
            if status != 200:
                refused.append(body)
                return
            answered.append(body["exchange_id"])
            finished_at.append(time.monotonic())

    threads = [threading.Thread(target=traffic, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(answered) < 32 and time.monotonic() < deadline:
        time.sleep(0.1)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        status = server.process.wait(timeout=120)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert status == 0 and not refused, (refused, server.errors())
    assert "every request received was answered" in server.errors()
    assert any(moment > signalled for moment in finished_at), "no request was in flight at SIGTERM"
    connection = sqlite3.connect(database)
    stored = {row[0] for row in connection.execute("SELECT id FROM exchanges")}
    assert stored == set(answered)  # each answer delivered was stored, and each stored one delivered


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def ask_on_page(browser, question: str, count: int, after_sending=None) -> None:
    """Type and send a question on the chat page, then wait for the page's ``count``-th reply."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element(By.ID, "question").send_keys(question)
    browser.find_element(By.ID, "send").click()
    if after_sending is not None:
        after_sending(browser)
    WebDriverWait(browser, 90).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".turn.bot")) == count)


def headless_chromium(tmp_path):
    """Debian's Chromium, headless, with a profile of its own and nothing fetched from outside."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian's chromium and chromium-driver are not installed")
def test_chat_page_in_headless_chromium(run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = Server(deepqa_serve(run, tmp_path / "db.sqlite3"))
    browser = headless_chromium(tmp_path)
    try:
        browser.get(server.url + "/")
        for count, question in enumerate(("question 1 about 1?", "question 2 about 2?"), start=1):
            ask_on_page(browser, question, count)
        bot_turn = browser.find_elements(By.CSS_SELECTOR, ".turn.bot")[0]
        bot_turn.find_element(By.CSS_SELECTOR, "button.rate").click()
        WebDriverWait(browser, 30).until(lambda b: bot_turn.get_attribute("data-rated") == "1")
        chosen = bot_turn.find_elements(By.CSS_SELECTOR, "button.rate.chosen")
        assert [b.get_attribute("data-rating") for b in chosen] == ["1"]  # the choice stays marked
        assert "model tiny" in browser.find_element(By.ID, "model").text
        # A long conversation scrolls inside the page and follows the newest message.
        for count in range(3, 15):
            ask_on_page(browser, f"question {count} about 1?", count)
        log_box = browser.find_element(By.ID, "log")
        viewport = browser.execute_script("return window.innerHeight")
        assert log_box.size["height"] <= viewport
        assert browser.execute_script(
            "const l = arguments[0]; return l.scrollHeight > l.clientHeight && "
            "l.scrollTop + l.clientHeight >= l.scrollHeight - 2", log_box)
        messages = [entry["message"] for entry in browser.get_log("browser")]
        assert not [m for m in messages if "Content Security Policy" in m], messages
        browser.save_screenshot(str(tmp_path / "chat.png"))
    finally:
        browser.quit()
        server.stop()
    connection = sqlite3.connect(tmp_path / "db.sqlite3")
    contexts = [json.loads(row[0]) for row in connection.execute("SELECT context FROM exchanges ORDER BY time")]
    assert contexts[0] == [] and contexts[1][0] == "question 1 about 1?"  # the page sends the conversation along
    assert connection.execute("SELECT rating FROM feedback").fetchall() == [(1,)]


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian's chromium and chromium-driver are not installed")
def test_chat_page_asks_for_the_api_key_once(run, tmp_path):
    from selenium.webdriver.common.by import By

    server = Server(deepqa_serve(run, tmp_path / "db.sqlite3"), {**ENV, "DEEPQA_SERVE_API_KEY": "s3cret"})
    browser = headless_chromium(tmp_path)
    try:
        browser.get(server.url + "/")
        for count, question in enumerate(("question 1 about 1?", "question 2 about 2?"), start=1):
            ask_on_page(browser, question, count, give_key if count == 1 else None)
        assert not browser.find_element(By.ID, "error").text
    finally:
        browser.quit()
        server.stop()


def give_key(browser):
    """Answer the page's prompt for the API key."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda b: _alert(b))
    prompt = browser.switch_to.alert
    prompt.send_keys("s3cret")
    prompt.accept()


def _alert(browser):
    try:
        browser.switch_to.alert
        return True
    except Exception:  # no alert yet
        return False


def test_responses_carry_security_headers(run, tmp_path):
    server = Server(deepqa_serve(run, tmp_path / "db.sqlite3"))
    try:
        for path in ("/", "/static/chat.js", "/api/v1/health"):
            with urllib.request.urlopen(server.url + path, timeout=30) as reply:
                headers = reply.headers
                assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
                assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert call(server.url + "/static/../config.ini")[0] == 404
    finally:
        server.stop()
