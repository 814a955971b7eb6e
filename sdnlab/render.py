"""Output for people: the one rich renderer of grade reports, lab results, the catalogue and progress.

Every string that comes from users (lab and spec texts, flow matches, host names, packet
metadata) reaches the terminal through ``plain``: as literal text, never as rich markup, with
control characters escaped; so ``[tcp,tp_dst=80]`` prints as written. Tables fold long cells
instead of cutting them (``table``), so an id or an address is whole on 80 columns and when
piped. Words of the interface (headers, PASS/FAIL, levels, skills, the labels of grader
feedback) come in English or Japanese (``word``). Machines get JSON instead: ``sdnlab.jsonio``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from sdnlab.grader.report import GradeReport
    from sdnlab.labs.results import LabResult

LANGS = ("en", "ja")

_JA = {
    "PASS": "合格",
    "FAIL": "不合格",
    "check": "チェック",
    "submit": "提出",
    "behaviour": "振る舞い",
    "cases": "ケース",
    "points": "点数",
    "hidden": "非公開",
    "Score": "得点",
    "points_of": "点",
    "hidden checks": "非公開チェック",
    "passed": "合格",
    "sdnlab labs": "sdnlab ラボ一覧",
    "sdnlab grade": "sdnlab 採点",
    "title": "タイトル",
    "level": "レベル",
    "min": "分",
    "skills": "スキル",
    "skill": "スキル",
    "controller": "コントローラー",
    "best": "最高点",
    "labs": "ラボ",
    "lab": "ラボ",
    "attempts": "提出回数",
    "last": "前回",
    "hints": "ヒント",
    "done": "完了",
    "yes": "はい",
    "score": "得点",
    "labs done": "完了したラボ",
    "grader finding": "採点器の所見",
    "reference": "模範解答との差",
    "graded with links down:": "リンク断の状態で採点:",
    "live": "実機",
    "probes as predicted": "件のプローブが予測どおり",
    "static": "静的",
    "replay": "リプレイ",
    # levels and skills
    "beginner": "初級",
    "intermediate": "中級",
    "advanced": "上級",
    "network": "ネットワーク",
    "programming": "プログラミング",
    "security": "セキュリティ",
    "proficient": "習熟",
    "practising": "練習中",
    "beginning": "入門",
    "not started": "未着手",
    "none": "なし",
    "builtin": "組み込み",
    "app": "アプリ",
}

# the fixed phrases of grader feedback (render_failure, probe details) and their Japanese
_FEEDBACK_JA = (
    (re.compile(r"^(\s*)packet: "), r"\1パケット: "),
    (re.compile(r"^(\s*)outcome: "), r"\1結果: "),
    (re.compile(r"^(\s*)blame: "), r"\1原因: "),
    (re.compile(r"\(in_port (\S+)\)"), r"(入力ポート \1)"),
    (re.compile(r" -> port (\S+)"), r" -> ポート \1"),
    (re.compile(r"\bdelivered to ([^\s;,]+)"), r"\1 に到達"),
    (re.compile(r"\btable (\d+) priority (\d+) "), r"テーブル \1 優先度 \2 "),
    (
        re.compile(r"^(\d+) live probe\(s\) not run in static grading$"),
        r"実機プローブ \1 件は静的採点では実行していません",
    ),
    (
        re.compile(r"^hidden checks not available on this machine: public checks only$"),
        "このマシンには非公開チェックがありません: 公開チェックのみで採点しました",
    ),
    (re.compile(r"\bdropped \("), "破棄 ("),
    (re.compile(r"\blost \("), "消失 ("),
    (re.compile(r"\bdelivered but must be isolated\b"), "届いてはならないのに届いた"),
    (re.compile(r"\bnot delivered\b"), "届かない"),
    (re.compile(r"\bline (\d+)\)"), r"\1 行目)"),
    (
        re.compile(
            r"^graded by replay: (\S+) ran against simulated switches in (\S+) s \(no network\); "
            r"`sdnlab lab submit` grades your running lab live$"
        ),
        (
            r"リプレイで採点: \1 を模擬スイッチに対して \2 秒実行しました (ネットワークは不使用)。"
            r"`sdnlab lab submit` は稼働中のラボを実機で採点します"
        ),
    ),
    (re.compile(r"^graded live, not by replay: "), "リプレイではなく実機で採点: "),
    (re.compile(r"^graded from the files, not by replay: "), "リプレイではなくファイルから採点: "),
    # why a lab whose controller is the trainee's app was checked live (labs.replay_check.replay_reason)
    (
        re.compile(r"\byour app uses what replay does not simulate \((.*)\)$"),
        r"アプリがリプレイで模擬していない機能を使っています (\1)",
    ),
    (re.compile(r"\bit runs VNFs$"), "VNF を動かすラボです"),
    (
        re.compile(r"\bits scenario step (\S+) is not simulated$"),
        r"シナリオの手順 \1 はリプレイで模擬していません",
    ),
    (
        re.compile(r"\bits probe (\S+) \((\S+)\) is not simulated$"),
        r"プローブ \1 (\2) はリプレイで模擬していません",
    ),
    # what a replayed conversation showed (sdnlab.grader.replay.grade, its conversation checks)
    (re.compile(r"^replay: "), "リプレイ: "),
    (
        re.compile(
            r"\ba repeated ping reached the controller: no flow was installed for it after the first packet$"
        ),
        "2 回目の ping もコントローラーに届きました: 最初のパケットの後にフローが入っていません",
    ),
    (
        re.compile(r"\bthe app flooded a frame whose destination the switch had already reported$"),
        "スイッチが既に報告した宛先のフレームをアプリがフラッドしました",
    ),
    (
        re.compile(r"\b(\d+) packet-in\(s\) got no packet-out$"),
        r"\1 件の packet-in に packet-out がありません",
    ),
    (
        re.compile(r"\bat most (\d+) packet-ins per switch and flow; worst: (\d+)"),
        r"スイッチとフローごとの packet-in は最大 \1 件のはずが、最多 \2 件",
    ),
    (re.compile(r"\b(\d+)/(\d+) pings answered"), r"ping \2 件中 \1 件に応答"),
)


def word(text: str, lang: str = "en") -> str:
    """An interface word in ``lang`` (the English word when there is no translation)."""
    if lang == "ja":
        return _JA.get(text, text)
    return "points" if text == "points_of" else text


def feedback(text: str, lang: str = "en") -> str:
    """Grader feedback with its fixed phrases in ``lang`` (names, matches and numbers unchanged)."""
    if lang != "ja":
        return text
    lines = []
    for line in text.split("\n"):
        for pattern, repl in _FEEDBACK_JA:
            line = pattern.sub(repl, line)
        lines.append(line)
    return "\n".join(lines)


def plain(value: object, style: str = "") -> Text:
    """``value`` as literal text (never markup) with control characters escaped (``\\x1b``)."""
    text = str(value)
    if not text.isprintable():
        text = "".join(
            c if c.isprintable() or c == "\n" else c.encode("unicode_escape").decode("ascii") for c in text
        )
    return Text(text, style=style)


def console(stderr: bool = False) -> Console:
    """The console commands print to (stdout, or stderr for progress and notes)."""
    return Console(stderr=stderr)


class WholeTable(Table):
    """A rich table whose key columns (ids, names, addresses) are never cut or folded.

    Key columns grow to their widest value (``min_width``); the other columns wrap words,
    and fold what is still too long, so no value is lost on 80 columns or in a pipe.
    """

    def __init__(self, *args: Any, whole: Iterable[int] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.whole = set(whole)

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        """Add a row; key columns widen to keep each value on one line."""
        super().add_row(*renderables, **kwargs)
        for index in self.whole:
            if index < len(renderables) and renderables[index] is not None:
                cell = renderables[index]
                width = max((cell_len(line) for line in str(cell).split("\n")), default=0)
                column = self.columns[index]
                column.min_width = max(column.min_width or 0, width)


def table(*columns: str, title: str | None = None, lang: str = "en", whole: Iterable[str] = ()) -> WholeTable:
    """A table that keeps the ``whole`` columns' values on one line and folds the rest, never cuts."""
    keep = set(whole)
    result = WholeTable(
        title=plain(word(title, lang)) if title else None,
        title_justify="left",
        whole=[i for i, c in enumerate(columns) if c in keep],
    )
    for column in columns:
        result.add_column(word(column, lang), overflow="fold", no_wrap=column in keep)
    return result


def mark(passed: bool, lang: str = "en") -> Text:
    """PASS in green or FAIL in red."""
    return Text(word("PASS", lang), style="green") if passed else Text(word("FAIL", lang), style="red")


@dataclass(frozen=True)
class CheckRow:
    """One graded check as people see it (from a grader behaviour or a lab check)."""

    id: str
    description: str
    passed: bool
    hidden: bool
    cases: int
    passed_cases: int
    score: float
    weight: float
    notes: tuple[str, ...] = ()
    details: tuple[str, ...] = field(default=())


def checks(
    out: Console,
    rows: Sequence[CheckRow],
    title: str,
    lang: str = "en",
    *,
    heading: str = "check",
    max_details: int | None = None,
) -> None:
    """A table of checks, then the feedback of each failing (visible) check."""
    grid = table("", heading, "cases", "points", title=title, lang=lang)
    for row in rows:
        cell = plain(row.id, "bold")
        if row.hidden:
            cell.append(f" ({word('hidden', lang)})", style="dim")
        cell.append("\n")
        cell.append_text(plain(row.description))
        for note in row.notes:
            cell.append("\n")
            cell.append_text(plain(feedback(note, lang), "dim"))
        grid.add_row(
            mark(row.passed, lang),
            cell,
            f"{row.passed_cases}/{row.cases}",
            f"{row.score:.2f}/{row.weight:g}",
        )
    out.print(grid)
    for row in rows:
        if row.passed:
            continue
        for detail in row.details[:max_details]:
            line = plain(row.id, "bold red")
            line.append(": ")
            line.append_text(plain(feedback(detail, lang)))
            out.print(line, highlight=False, soft_wrap=True)


def labelled(out: Console, label: str, text: str, style: str, lang: str = "en") -> None:
    """One line: a coloured label, then literal text."""
    line = Text(word(label, lang), style=style)
    line.append(" ")
    line.append_text(plain(text))
    out.print(line, highlight=False, soft_wrap=True)


def score_line(
    out: Console, score: float, max_score: float, percent: float | None, how: str, lang: str
) -> None:
    """The final line: the score (coloured by how good it is) and how it was obtained."""
    ratio = percent if percent is not None else (100.0 * score / max_score if max_score else 0.0)
    colour = "green" if ratio >= 100 else "yellow" if ratio >= 50 else "red"
    if percent is not None:
        head, tail = f"{percent:g}%", f" ({score:g}/{max_score:g} {word('points_of', lang)}, {how})"
    else:
        head, tail = f"{score:g}/{max_score:g}", f"  ({how})"
    line = Text(f"{word('Score', lang)}: {head}", style=f"bold {colour}")
    line.append(tail)
    out.print(line, highlight=False)


def grade_report(out: Console, report: GradeReport, lang: str = "en") -> None:
    """Print a grader report (``sdnlab grade``): checks, failures, findings, reference diffs."""
    from sdnlab.grader.report import render_failure

    rows = []
    for r in report.results:
        notes = []
        live = (report.live.get("behaviours") or {}).get(r.id)
        if live:
            notes.append(
                f"[{word('live', lang)}: {live['agree']}/{live['probes']} "
                f"{word('probes as predicted', lang)}]"
            )
        if r.note:
            notes.append(r.note)
        rows.append(
            CheckRow(
                r.id,
                r.description,
                r.passed,
                r.hidden,
                r.cases,
                r.passed_cases,
                r.score,
                r.weight,
                tuple(notes),
                tuple(render_failure(f) for f in r.failures),
            )
        )
    checks(out, rows, "sdnlab grade", lang, heading="behaviour")
    for finding in report.findings:
        labelled(
            out,
            "grader finding",
            f"{finding.behaviour} {finding.src}->{finding.dst}: predicted {finding.predicted}, "
            f"observed {finding.observed}",
            "yellow",
            lang,
        )
    for item in report.reference:
        labelled(out, "reference", item, "cyan", lang)
    if report.down:
        labelled(out, "graded with links down:", ", ".join("-".join(p) for p in report.down), "magenta", lang)
    score_line(out, report.score, report.max_score, None, f"{report.elapsed_s * 1000:.0f} ms", lang)


def lab_result(out: Console, result: LabResult, title: str, lang: str = "en") -> None:
    """Print a lab result (``lab check``, ``lab submit``): checks, their feedback, notes, the score."""
    rows = [
        CheckRow(
            i.id,
            i.describe(lang),
            i.passed,
            i.hidden,
            i.cases,
            i.passed_cases,
            i.score,
            i.weight,
            (),
            () if i.hidden else i.details,
        )
        for i in result.items
    ]
    checks(out, rows, title, lang, max_details=2)
    for note in result.notes:
        out.print(plain(feedback(note, lang), "dim"), highlight=False, soft_wrap=True)
    score_line(
        out,
        result.score,
        result.max_score,
        result.percent,
        f"{word(result.mode, lang)}, {result.elapsed_s:.1f} s",
        lang,
    )


def hidden_summary(out: Console, result: LabResult, lang: str = "en") -> None:
    """How many hidden checks passed (never which)."""
    hidden = [i for i in result.items if i.hidden]
    if hidden:
        out.print(
            f"{word('hidden checks', lang)}: {sum(i.passed for i in hidden)}/{len(hidden)} "
            f"{word('passed', lang)}"
        )


def catalogue(out: Console, rows: Iterable[dict[str, Any]], lang: str = "en") -> None:
    """The lab catalogue (``lab list``); ids stay whole, titles wrap."""
    grid = table("#", "id", "title", "level", "skills", "best", title="sdnlab labs", lang=lang, whole=("id",))
    for row in rows:
        best = row.get("best_percent")
        title = plain(row["title"][lang])
        title.append_text(
            plain(
                f"\n{row['minutes']} {word('min', lang)}, "
                f"{word('controller', lang)} {word(row['controller'], lang)}",
                "dim",
            )
        )
        grid.add_row(
            str(row["number"]),
            plain(row["id"]),
            title,
            word(row["level"], lang),
            ", ".join(word(s, lang) for s in row["skills"]),
            "-" if best is None else f"{best:g}%",
        )
    out.print(grid)


def progress(out: Console, report: dict[str, Any], lang: str = "en") -> None:
    """The trainee's labs and skill report (``sdnlab progress``)."""
    grid = table("lab", "attempts", "best", "last", "hints", "done", title="labs", lang=lang, whole=("lab",))
    reference_runs = 0
    for lab in report["labs"]:
        reference_runs += lab.get("reference_runs", 0)
        tried = lab["attempts"] > 0
        grid.add_row(
            plain(lab["lab"]),
            str(lab["attempts"]),
            f"{lab['best_percent']:g}%" if tried else "-",
            f"{lab['last_percent']:g}%" if tried else "-",
            str(lab["hints_used"]),
            word("yes", lang) if lab["done"] else "",
        )
    out.print(grid)
    if reference_runs:
        out.print(
            f"[dim]{reference_runs} submission(s) made after `sdnlab lab solve` (solved by the reference) "
            "are not counted[/]"
        )
    skills = table("skill", "score", "level", "labs done", title="skills", lang=lang)
    for skill, data in report["skills"].items():
        skills.add_row(
            word(skill, lang),
            f"{data['percent']:g}%",
            word(data["level"], lang),
            f"{len(data['labs_done'])}/{data['labs_total']}",
        )
    out.print(skills)


def markdown(out: Console, text: str) -> None:
    """A Markdown text (a lab's task) rendered for the terminal; plain text when piped."""
    if not out.is_terminal:
        out.print(plain(text), highlight=False, soft_wrap=True)
        return
    from rich.markdown import Markdown

    out.print(Markdown(text))


class Progress:
    """Progress of long work on stderr: a rich bar (or spinner) on a terminal, plain lines otherwise.

    Use as a context manager; it gives ``update(step, done, total)`` (``total`` 0: a phase with
    no count; ``done`` counts finished items), or None when ``enabled`` is false (``--json``:
    nothing but JSON is printed). Plain lines are printed for a new step and for the end of a
    counted one, so a step polled many times is not repeated.
    """

    def __init__(self, what: str, enabled: bool = True, out: Console | None = None) -> None:
        self.what, self.enabled = what, enabled
        self.out = out or console(stderr=True)
        self._bar: Any = None
        self._task: Any = None
        self._last: tuple[str, bool] | None = None

    def __enter__(self) -> Callable[[str, int, int], None] | None:
        if not self.enabled:
            return None
        if self.out.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn

            self._bar = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=self.out,
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.what, total=None)
        return self.update

    def update(self, step: str, done: int, total: int) -> None:
        """Show that ``step`` is under way (``done`` of ``total`` finished)."""
        if self._bar is not None:
            self._bar.update(
                self._task, description=f"{self.what}: {step}", completed=done, total=total or None
            )
            return
        key = (step, done >= total)
        if key == self._last:
            return  # the same step polled again (and not just finished)
        self._last = key
        count = f" ({done}/{total} done)" if total else ""
        self.out.print(plain(f"{self.what}: {step}{count}"), highlight=False, soft_wrap=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
