"""Which characters belong to Chinese, Japanese or Korean (CJK) script, where words are not spaced."""

import re

# Ideographs (with extensions and compatibility forms), kana, Hangul, CJK punctuation and
# the fullwidth punctuation that NFKC leaves alone.
CJK_CHARS = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff61-\uff9f\U00020000-\U0002fa1f"
)
CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")


def is_cjk(char: str) -> bool:
    """True if ``char`` (one character) is CJK script or CJK punctuation."""
    return bool(_CJK_CHAR.match(char))


def split_runs(text: str) -> list[tuple[bool, str]]:
    """Split ``text`` into alternating (is_cjk, run) pieces, in order."""
    runs, position = [], 0
    for match in CJK_RUN.finditer(text):
        if match.start() > position:
            runs.append((False, text[position:match.start()]))
        runs.append((True, match.group()))
        position = match.end()
    if position < len(text):
        runs.append((False, text[position:]))
    return runs
