"""English-aware word splitting and the detokenizer that every tokenizer shares.

Splitting follows the Penn Treebank habits a reader expects: ``don't`` → ``do n't``, ``it's`` →
``it 's``, punctuation apart, but ``o'clock``, ``well-known`` and ``3.14`` stay whole.
Joining reverses it: no space before closing punctuation and clitics, none after opening brackets,
quotes paired, and never a space next to a CJK character.
"""

from __future__ import annotations

import re

from deepqa.data.text.script import is_cjk

_CLITIC = r"(?:s|m|re|ve|ll|d)\b"
_WORD = re.compile(
    rf"(?:[a-z]\.){{2,}}(?![a-z])"               # abbreviations: u.s., e.g.
    rf"|\w+(?=n't\b)"                         # do|n't, ca|n't, wo|n't
    rf"|n't\b"
    rf"|'{_CLITIC}"                           # 's 'm 're 've 'll 'd
    rf"|\w+(?:(?:-|'(?!{_CLITIC})|[.,](?=\d))\w+)*"  # words, hyphenated words, o'clock, 1,000.5
    rf"|\.\.\.+"
    rf"|[^\w\s]",
    re.IGNORECASE,
)
CLITICS = {"n't", "'s", "'m", "'re", "'ve", "'ll", "'d"}
_NO_SPACE_BEFORE = {",", ".", "!", "?", ";", ":", "%", ")", "]", "}", "...", "…"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "#", "@"}
_QUOTES = {'"', "'"}
_SENTENCE_START = re.compile(r"(^|[.!?]\s+|[。！？]\s*)([a-z])")
_PRONOUN_I = re.compile(r"(?<![\w'])i(?=$|[\s',.!?;:])")


def split_words(text: str) -> list[str]:
    """Split English (or any non-CJK) text into words, clitics and punctuation."""
    return _WORD.findall(text)


def _is_clitic(token: str) -> bool:
    return token.lower() in CLITICS


def join_tokens(tokens: list[str]) -> str:
    """Join tokens into text with English spacing rules and no spaces next to CJK characters."""
    pieces: list[str] = []
    open_quotes = {'"': False, "'": False}
    previous = ""
    for token in tokens:
        if not token:
            continue
        space = bool(previous)
        if previous and (is_cjk(previous[-1]) or is_cjk(token[0])):
            space = False
        elif token in _NO_SPACE_BEFORE or _is_clitic(token) or previous in _NO_SPACE_AFTER:
            space = False
        elif token in _QUOTES:
            space = space and not open_quotes[token]  # a closing quote hugs the word before it
        elif previous in _QUOTES and open_quotes[previous]:
            space = False  # the word after an opening quote hugs it
        if token in _QUOTES:
            open_quotes[token] = not open_quotes[token]
        if space:
            pieces.append(" ")
        pieces.append(token)
        previous = token
    return "".join(pieces)


def sentence_case(text: str) -> str:
    """Capitalize the first letter of each sentence and the pronoun ``i``."""
    text = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)
    return _PRONOUN_I.sub("I", text)
