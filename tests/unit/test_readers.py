"""Every corpus reader on fixture files written here, including malformed and mis-encoded input."""

import json
import sqlite3

import pytest

from deepqa.config import SourceConfig
from deepqa.data.corpus import CORPUS_FORMATS, ReadStats, read_source
from deepqa.errors import CorpusError

SEP = " +++$+++ "


def read(fmt, path="", **settings):
    stats = ReadStats()
    conversations = list(CORPUS_FORMATS.get(fmt)(SourceConfig(format=fmt, path=str(path), **settings), stats))
    return conversations, stats


def write_cornell(folder, lines, conversations):
    folder.mkdir(exist_ok=True)
    (folder / "movie_lines.txt").write_bytes("\r\n".join(lines).encode("iso-8859-1") + b"\r\n")
    (folder / "movie_conversations.txt").write_bytes("\r\n".join(conversations).encode("iso-8859-1") + b"\r\n")


def test_cornell_as_released_latin1_crlf_in_id_order_with_bad_lines(tmp_path):
    folder = tmp_path / "cornell"
    write_cornell(folder, [
        f"L3{SEP}u1{SEP}m0{SEP}A{SEP}Très bien\x85 merci.",   # \x85 is NEL in latin-1: not a line break
        f"L1{SEP}u0{SEP}m0{SEP}B{SEP}Comment ça va?",
        f"L2{SEP}u1{SEP}m0{SEP}A{SEP}Bien.",
        "garbage without separators",
        f"L9{SEP}u0{SEP}m0{SEP}B{SEP}Alone.",
    ], [
        f"u0{SEP}u1{SEP}m0{SEP}['L1', 'L3', 'L2']",
        f"u0{SEP}u1{SEP}m0{SEP}__import__('os')",
        f"u0{SEP}u1{SEP}m0{SEP}['L2', 'L404', 'L1', 'L3']",
    ])
    conversations, stats = read("cornell", folder)
    assert conversations[0] == ["Comment ça va?", "Très bien\x85 merci.", "Bien."]
    assert conversations[1:] == [["Bien."], ["Comment ça va?", "Très bien\x85 merci."]]  # split at the missing id
    assert stats.skipped == 3
    assert stats.skipped_examples[0].startswith("movie_lines.txt:4")
    assert "movie_conversations.txt:2" in stats.skipped_examples[1]
    assert "L404" in stats.skipped_examples[2]


def test_cornell_missing_files_and_wrong_encoding_are_clear_errors(tmp_path):
    with pytest.raises(CorpusError, match="has no movie_lines.txt"):
        read("cornell", tmp_path)
    folder = tmp_path / "c"
    write_cornell(folder, [f"L1{SEP}u0{SEP}m0{SEP}B{SEP}café"], [f"u0{SEP}u1{SEP}m0{SEP}['L1']"])
    with pytest.raises(CorpusError, match=r"movie_lines.txt.*not valid utf-8.*line 1"):
        read("cornell", folder, encoding="utf-8")


def test_conv_mixed_line_ends_blank_and_malformed_lines(tmp_path):
    (tmp_path / "a.conv").write_bytes(
        b"M stray before E\nE\r\nM \xe4\xbd\xa0\xe5\xa5\xbd\r\nM \xe5\x97\xa8\n\nE\nM only title\nE\r\nM a\nX what\nM b\n")
    (tmp_path / "readme.md").write_text("not a corpus")
    conversations, stats = read("conv", tmp_path)
    assert conversations == [["你好", "嗨"], ["only title"], ["a", "b"]]
    assert stats.skipped == 2 and stats.skipped_examples[0].startswith("a.conv:1")
    assert "a.conv:10" in stats.skipped_examples[1]


def test_pairs_skips_lines_without_exactly_one_tab(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("hi\thello\nno tab here\na\tb\tc\n\nq\t\nwhy?\tbecause.\n", encoding="utf-8")
    conversations, stats = read("pairs", path)
    assert conversations == [["hi", "hello"], ["why?", "because."]]
    assert stats.skipped == 3
    assert [e.split(":")[1] for e in stats.skipped_examples] == ["2", "3", "5"]


def test_lightweight_separates_on_triple_equals(tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("hello\nhi there\n===\n\n===\nhow are you?\nfine\nand you?\n", encoding="utf-8")
    conversations, _ = read("lightweight", path)
    assert conversations == [["hello", "hi there"], ["how are you?", "fine", "and you?"]]


def test_jsonl_accepts_turns_and_question_answer(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join([
        json.dumps({"turns": ["a", "b", "c"]}),
        json.dumps({"question": "q", "answer": "r"}),
        "{not json",
        json.dumps({"turns": ["a", 3]}),
        json.dumps(["a", "b"]),
    ]) + "\n", encoding="utf-8")
    conversations, stats = read("jsonl", path)
    assert conversations == [["a", "b", "c"], ["q", "r"]]
    assert stats.skipped == 3 and "invalid JSON" in stats.skipped_examples[0]


def test_missing_paths_and_empty_sources_are_clear_errors(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        read("pairs", tmp_path / "nope.tsv")
    with pytest.raises(CorpusError, match="needs a path"):
        read("pairs", "")
    with pytest.raises(CorpusError, match="holds no .conv files"):
        read("conv", tmp_path)
    (tmp_path / "bad.tsv").write_text("no tabs\nat all\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no usable conversation.*skipped 2"):
        read_source("mine", SourceConfig(format="pairs", path=str(tmp_path / "bad.tsv")))


def test_glob_paths_read_every_match(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.tsv").write_text(f"{name}?\t{name}!\n", encoding="utf-8")
    conversations, stats = read("pairs", tmp_path / "*.tsv")
    assert conversations == [["a?", "a!"], ["b?", "b!"]] and len(stats.files) == 2


def make_sqlite(path):
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE turns (conversation_id INTEGER, position INTEGER, text TEXT)")
    connection.executemany("INSERT INTO turns VALUES (?, ?, ?)",
                           [(1, 1, "hi"), (1, 2, "hello"), (2, 2, "fine"), (2, 1, "how are you?"), (3, 1, None)])
    connection.commit()
    connection.close()


QUERY = "SELECT conversation_id, text FROM turns ORDER BY conversation_id, position"


def test_sql_reads_sqlite_path_and_url(tmp_path):
    database = tmp_path / "chat.db"
    make_sqlite(database)
    for url in (str(database), f"sqlite:///{database}"):
        conversations, stats = read("sql", sql_url=url, sql_query=QUERY)
        assert conversations == [["hi", "hello"], ["how are you?", "fine"]]
        assert stats.skipped == 1


def test_sql_through_sqlalchemy_url(tmp_path):
    pytest.importorskip("sqlalchemy")
    database = tmp_path / "chat.db"
    make_sqlite(database)
    conversations, _ = read("sql", sql_url=f"sqlite+pysqlite:///{database}", sql_query=QUERY)
    assert conversations == [["hi", "hello"], ["how are you?", "fine"]]


def test_sql_errors_are_clear(tmp_path):
    with pytest.raises(CorpusError, match="needs .* sql_url and sql_query"):
        read("sql")
    with pytest.raises(CorpusError, match="does not exist"):
        read("sql", sql_url=str(tmp_path / "none.db"), sql_query=QUERY)
    database = tmp_path / "chat.db"
    make_sqlite(database)
    with pytest.raises(CorpusError, match="sql_query failed.*no such table"):
        read("sql", sql_url=str(database), sql_query="SELECT a, b FROM missing")


def test_chitchat_reader_joins_each_speakers_messages(tmp_path):
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({
        "c1": {"messages": [[{"text": "Hello"}, {"text": "How are you?"}], [{"text": "fine"}]]},
        "c2": {"broken": True},
    }), encoding="utf-8")
    conversations, stats = read("chitchat", path)
    assert conversations == [["Hello How are you?", "fine"]] and stats.skipped == 1


def test_chatterbot_reads_the_installed_package_and_rejects_unknown_languages():
    conversations, stats = read("chatterbot", language="chinese")
    assert len(conversations) > 100 and all(isinstance(t, str) for c in conversations for t in c)
    assert any(c == ["你好", "嗨"] for c in conversations)
    with pytest.raises(CorpusError, match="no language 'klingon'.*english"):
        read("chatterbot", language="klingon")
