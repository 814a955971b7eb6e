"""Terminal history: the command lines a trainee typed, rebuilt from the terminal's input events.

The browser sends keystrokes (``{"type": "input", "data": ...}``), not lines. ``LineRecorder``
replays them the way a line editor would: printable text is appended, Backspace/DEL removes the
last character, Ctrl-U and Ctrl-C discard the line, Ctrl-W removes the last word, Enter ends
it; escape sequences (arrow keys, function keys, bracketed-paste markers) are skipped. What the
shell did with history recall or Tab completion is not visible in the input, so such a line is
recorded as typed (``[Tab]`` marks completions, ``[Up]`` a history recall). Lines are capped at
``MAX_LINE`` characters and a session at ``MAX_LINES`` lines; the rest is counted, not kept.
"""

from __future__ import annotations

import re

MAX_LINE = 500
MAX_LINES = 2000
_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|O.|[@-Z\\-_])")
_MARKS = {"\x1b[A": "[Up]", "\x1bOA": "[Up]", "\x1b[B": "[Down]", "\x1bOB": "[Down]"}


class LineRecorder:
    """Rebuilds typed lines from input chunks; ``feed`` returns the lines completed by a chunk."""

    def __init__(self, max_line: int = MAX_LINE, max_lines: int = MAX_LINES):
        self.max_line = max_line
        self.max_lines = max_lines
        self.buffer: list[str] = []
        self.kept = 0
        self.dropped = 0
        self._pending = ""  # an escape sequence split across chunks

    def feed(self, data: str) -> list[str]:
        """Replay one input chunk; the complete lines it ended (empty lines are not recorded)."""
        text = self._pending + data
        self._pending = ""
        done: list[str] = []
        i = 0
        while i < len(text):
            char = text[i]
            if char == "\x1b":
                match = _ESCAPE.match(text, i)
                if match is None:
                    if len(text) - i < 8:  # maybe the rest arrives with the next chunk
                        self._pending = text[i:]
                        break
                    i += 1
                    continue
                mark = _MARKS.get(match.group(0))
                if mark:
                    self._append(mark)
                i = match.end()
                continue
            i += 1
            if char in "\r\n":
                if char == "\n" and i >= 2 and text[i - 2] == "\r":
                    continue  # CR LF: one line end
                line = "".join(self.buffer).strip()
                self.buffer = []
                if line:
                    self._keep(line, done)
            elif char in "\x7f\b":
                if self.buffer:
                    self.buffer.pop()
            elif char in "\x15\x03":  # Ctrl-U, Ctrl-C: the line is gone
                self.buffer = []
            elif char == "\x17":  # Ctrl-W: the last word
                while self.buffer and self.buffer[-1] == " ":
                    self.buffer.pop()
                while self.buffer and self.buffer[-1] != " ":
                    self.buffer.pop()
            elif char == "\t":
                self._append("[Tab]")
            elif char >= " ":
                self._append(char)
        return done

    def _append(self, text: str) -> None:
        if len(self.buffer) < self.max_line:
            self.buffer.extend(text[: self.max_line - len(self.buffer)])

    def _keep(self, line: str, done: list[str]) -> None:
        if self.kept >= self.max_lines:
            self.dropped += 1
            return
        self.kept += 1
        done.append(line)
