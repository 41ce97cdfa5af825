"""Unicode and whitespace normalization applied to every turn before tokenization.

The documented normalization, which every tokenizer's round trip is defined against:
NFKC (fullwidth forms become ASCII, ``…`` becomes ``...``); typographic quotes become ASCII quotes;
control characters become spaces; runs of whitespace become one space; no space is kept next to a
CJK character (Chinese text is not spaced); leading and trailing space is removed; optionally
letters are lower-cased (CJK text has no case and is unaffected).
"""

import re
import unicodedata

from deepqa.data.text.script import CJK_CHARS

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"'})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")
_SPACE_NEAR_CJK = re.compile(f"(?<=[{CJK_CHARS}]) | (?=[{CJK_CHARS}])")


def normalize(text: str, lowercase: bool = False) -> str:
    """Return the canonical form of ``text`` (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = _SPACE_NEAR_CJK.sub("", text)
    return text.lower() if lowercase else text
