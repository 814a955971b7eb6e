"""Lab texts for one session: task texts and hints name the trainee's own session.

Texts (README.md, README.ja.md, hints in lab.yaml) write ``{{session}}`` where a command needs
the session's name (``sdnlab status --name {{session}}``); ``fill_session`` puts the name in
when the text is shown. The rest of the rendering for people is ``sdnlab.render``.
"""

from __future__ import annotations

SESSION = "{{session}}"


def fill_session(text: str, name: str) -> str:
    """``text`` with every ``{{session}}`` replaced by the session name ``name``."""
    return text.replace(SESSION, name)
