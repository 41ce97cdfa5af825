"""``deepqa chat``: talk to a run in the console, answer one question, or answer piped lines."""

from __future__ import annotations

import sys
from typing import IO

from deepqa.config import DecodeConfig, with_text
from deepqa.errors import ConfigError
from deepqa.inference.chatbot import Chatbot
from deepqa.registry import STRATEGIES

HELP = """commands:
  /reset                 forget the conversation so far
  /strategy NAME         {strategies}
  /set KEY=VALUE         a [decode] setting ({keys}), e.g. /set temperature=0.7
  /settings              show the decoding settings
  /help                  this text
  /quit                  leave (so do Ctrl-D and Ctrl-C)"""


class ChatSession:
    """A conversation with a chatbot: the turns so far and the decoding settings in force."""

    def __init__(self, bot: Chatbot, options: DecodeConfig, keep_context: bool = True):
        self.bot, self.options, self.keep_context = bot, options, keep_context
        self.history: list[str] = []

    def _command(self, line: str) -> str:
        name, _, argument = line[1:].partition(" ")
        argument = argument.strip()
        if name == "reset":
            self.history.clear()
            return "(conversation forgotten)"
        if name == "help":
            return HELP.format(strategies=", ".join(STRATEGIES.names()), keys=", ".join(DecodeConfig.request_keys()))
        if name == "settings":
            return ", ".join(f"{key}={value}" for key, value in self.options.model_dump().items())
        if name in ("strategy", "set"):
            key, value = ("strategy", argument) if name == "strategy" else [p.strip() for p in argument.partition("=")[::2]]
            try:
                if key not in DecodeConfig.request_keys():
                    raise ConfigError(f"/set takes one of {', '.join(DecodeConfig.request_keys())}, not {key!r}")
                self.options = with_text("decode", self.options, key, value)
            except ConfigError as exc:
                return f"error: {exc}"
            return f"({key} = {getattr(self.options, key)})"
        return f"unknown command /{name}; /help lists them"

    def answer(self, line: str) -> str:
        """What to print for one line typed by the user: a reply, or the result of a command."""
        line = line.strip()
        if not line:
            return ""
        if line.startswith("/"):
            return self._command(line)
        reply = self.bot.reply_batch([(line, self.history if self.keep_context else None)], self.options)[0]
        if self.keep_context:
            self.history += [line, reply.text]
        if len(reply.answers) > 1:
            return "\n".join(f"{i}. {a.text}  ({a.score:.3f})" for i, a in enumerate(reply.answers, start=1))
        return reply.text


def run_chat(bot: Chatbot, options: DecodeConfig, question: str | None = None,
             stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout) -> int:
    """Answer ``question`` once, or every line of a piped ``stdin``, or hold an interactive conversation."""
    if question is not None:
        print(ChatSession(bot, options, keep_context=False).answer(question), file=stdout)
        return 0
    interactive = stdin.isatty()
    # Piped lines are independent questions, each answered on exactly one line.
    session = ChatSession(bot, options if interactive else options.replace(num_answers=1), keep_context=interactive)
    if interactive:
        print(f"deepqa chat with {bot.run_dir.name} ({bot.config.model.type}); /help for commands", file=stdout)
    while True:
        if interactive:
            print("you> ", end="", file=stdout, flush=True)
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            break
        if not line or (interactive and line.strip() in ("/quit", "/exit")):
            break
        output = session.answer(line)
        if interactive:
            print(f"bot> {output}" if output else "", file=stdout, flush=True)
        elif line.strip() and not line.strip().startswith("/"):
            print(output.replace("\n", " "), file=stdout, flush=True)
    return 0
