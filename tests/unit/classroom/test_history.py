"""Terminal history: command lines rebuilt from the keystrokes a browser terminal sends."""

from sdnlab.classroom.history import LineRecorder


def test_keystrokes_become_lines_at_enter():
    rec = LineRecorder()
    assert rec.feed("ovs-ofctl ") == []
    assert rec.feed("dump-flows s1\r") == ["ovs-ofctl dump-flows s1"]
    assert rec.feed("h1 ping -c1 h2\r\nexit\n") == ["h1 ping -c1 h2", "exit"]


def test_backspace_ctrl_u_ctrl_c_and_ctrl_w_edit_the_line_as_a_shell_would():
    rec = LineRecorder()
    assert rec.feed("lss\x7f -l\r") == ["ls -l"]
    assert rec.feed("rm -rf /\x15echo hi\r") == ["echo hi"]
    assert rec.feed("sleep 100\x03") == [] and rec.feed("\r") == []
    assert rec.feed("cat wrong\x17right\r") == ["cat right"]


def test_escape_sequences_are_skipped_and_history_recall_and_completion_are_marked():
    rec = LineRecorder()
    assert rec.feed("ab\x1b[Dc\r") == ["abc"]  # cursor left is not modelled: the text as typed
    assert rec.feed("\x1b[A\r") == ["[Up]"]
    assert rec.feed("ovs-of\tdump\r") == ["ovs-of[Tab]dump"]
    assert rec.feed("x\x1b[") == [] and rec.feed("Cy\r") == ["xy"], "a sequence split across chunks"
    assert rec.feed("\x1b[200~pasted\x1b[201~\r") == ["pasted"]


def test_lines_and_line_counts_are_capped():
    rec = LineRecorder(max_line=5, max_lines=2)
    assert rec.feed("abcdefgh\r") == ["abcde"]
    assert rec.feed("1\r2\r3\r") == ["1"]
    assert rec.kept == 2 and rec.dropped == 2
    assert rec.feed("\r\r   \r") == [], "empty lines are not recorded"
