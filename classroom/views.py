"""What the API answers about database rows: users, sessions, results, and reports as trainees see them."""

from sqlalchemy.orm import Session as DbSession

from sdnlab.classroom import accounts
from sdnlab.classroom.db import LabSession, Membership, Result, User
from sdnlab.classroom.errors import ClassroomError


def public_report(full: dict, lang: str = "en") -> dict:
    """A grader report as a trainee may see it: visible checks in full (their descriptions and
    feedback in ``lang``), hidden ones as counts; how check graded (``checked_by``: by replay, with
    what the replayed conversation showed, or live and why) in ``lang``, in place of the notes
    that say it for the command line."""
    from sdnlab.render import feedback

    checks = full.get("checks", [])
    hidden = [c for c in checks if c.get("hidden")]
    shown = [
        {
            **c,
            "description": c.get("description_ja") or c.get("description"),
            "details": [feedback(str(d), lang) for d in c.get("details", [])],
        }
        if lang == "ja"
        else c
        for c in checks
        if not c.get("hidden")
    ]
    notes = list(full.get("notes", []))
    report = {
        **{k: v for k, v in full.items() if k not in ("checks", "notes", "checked_by")},
        "checks": shown,
        "hidden_checks": {"total": len(hidden), "passed": sum(bool(c.get("passed")) for c in hidden)},
    }
    checked = full.get("checked_by")
    if isinstance(checked, dict):
        notes = notes[int(checked.get("notes", 0)) :]
        report["checked_by"] = checked_by_view(checked, lang, str(full.get("mode", "")))
    report["notes"] = [feedback(str(n), lang) for n in notes]
    return report


# what each conversation check of the replay (sdnlab.grader.replay.grade) found, when it failed
REPLAY_FINDINGS = {
    "pings-delivered": (
        "Some pings were not answered in the replay",
        "リプレイで応答のない ping がありました",
    ),
    "no-forwarding-loop": (
        "A frame went round a forwarding loop",
        "フレームが転送ループを回りました",
    ),
    "packet-ins-answered": (
        "A packet-in got no packet-out from your app",
        "アプリが packet-out を返さなかった packet-in があります",
    ),
    "no-packet-in-storm": (
        "Packet-in storm: one flow reached the controller again and again",
        "packet-in の嵐: 同じフローが何度もコントローラーに届きました",
    ),
    "flows-before-second-packet": (
        "A repeated ping still reached the controller: no flow was installed after the first packet",
        "2 回目の ping もコントローラーに届きました: 最初のパケットの後にフローが入っていません",
    ),
    "no-flood-after-learning": (
        "Your app flooded a frame whose destination it had already learnt",
        "宛先を学習済みのフレームをアプリがフラッドしました",
    ),
    "no-handler-errors": (
        "Your app raised an error in an event handler",
        "アプリのイベントハンドラーでエラーが発生しました",
    ),
}


def checked_by_view(checked: dict, lang: str = "en", mode: str = "live") -> dict:
    """How check graded, for the trainee in ``lang``: a sentence and, for a replay, each finding with
    its message sequence (``packet-in`` and the reply on the next line, with the app line that sent it).
    ``mode``: the report's (``static`` when the workspace backend graded the files instead)."""
    from sdnlab.render import feedback

    replay = bool(checked.get("replay"))
    if replay:
        app, seconds = str(checked.get("app", "")), float(checked.get("seconds") or 0.0)
        text = (
            f"リプレイで採点しました: アプリ {app} を模擬スイッチに対して {seconds:.2f} 秒実行 "
            "(ネットワークは不使用)。提出は稼働中のラボを実機で採点します。"
            if lang == "ja"
            else f"Checked by replay: your app {app} ran against simulated switches in {seconds:.2f} s "
            "(no network). Submit grades your running lab live."
        )
    else:
        reason = feedback(str(checked.get("reason", "")), lang)
        if mode == "static":
            text = (
                f"リプレイではなく、ワークスペースのファイルから採点しました (ネットワークなし): {reason}"
                if lang == "ja"
                else f"Checked from your workspace files (no network), not by replay: {reason}"
            )
        else:
            text = (
                f"リプレイではなく、稼働中のラボを実機で採点しました: {reason}"
                if lang == "ja"
                else f"Checked live on your running lab, not by replay: {reason}"
            )
    findings = []
    for finding in checked.get("findings", []):
        if not isinstance(finding, dict):
            continue
        check = str(finding.get("check", ""))
        titles = REPLAY_FINDINGS.get(check)
        detail = feedback(str(finding.get("detail", "")), lang)
        findings.append(
            {
                "check": check,
                "title": (titles[1] if lang == "ja" else titles[0]) if titles else detail,
                "detail": detail,
                "messages": [message_lines(str(m)) for m in finding.get("messages", [])],
            }
        )
    if checked.get("app_changed"):
        app = str(checked.get("app", ""))
        text += (
            f" {app} はラボのコントローラーの起動後に変更されています: "
            "チェックはこのファイルを、提出は動作中のアプリを採点します。"
            "新しい版を動かすには「保存してデプロイ」を押してください。"
            if lang == "ja"
            else f" {app} changed after your lab's controller started: check graded the file, submit "
            "grades the running app. Press Save & deploy to run the new version."
        )
    return {"replay": replay, "text": text, "findings": findings}


def message_lines(message: str) -> str:
    """A packet-in and the app's replies, one per line (``dpid 2: PACKET_IN ... => PACKET_OUT ...
    [l2_switch.py:57]; PACKET_OUT ...`` as the replay prints it on one line)."""
    packet_in, arrow, replies = message.partition(" => ")
    if not arrow:
        return message
    return packet_in + "".join(f"\n    => {reply}" for reply in replies.split("; "))


def hidden_checks(lab_id: str, kind: str) -> str | None:
    """What the server sends a sandbox with a grade call: the text of the lab's hidden.yaml for a
    submit where this server has the instructor data (sdnlab.instructor), else None."""
    from sdnlab import instructor
    from sdnlab.labs.loader import labs_root

    if kind != "submit":
        return None
    part = instructor.lab_part(labs_root() / lab_id)
    path = part / instructor.HIDDEN if part is not None else None
    return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None


def language(lang: str) -> str:
    """``lang`` when it is one the UI speaks (en, ja); a 400 otherwise."""
    if lang not in ("en", "ja"):
        raise ClassroomError(f"lang {lang[:8]!r}: en or ja")
    return lang


def join_class(db: DbSession, user: User, class_name: str) -> None:
    """Make ``user`` a member of the class (created when new)."""
    group = accounts.class_named(db, class_name)
    if db.get(Membership, (user.id, group.id)) is None:
        db.add(Membership(user_id=user.id, class_id=group.id))
        db.flush()


def user_dict(db: DbSession, user: User) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "classes": accounts.user_classes(db, user.id),
    }


def session_dict(row: LabSession) -> dict:
    return {
        "id": row.id,
        "lab": row.lab_id,
        "sandbox": row.sandbox,
        "state": row.state,
        "started_at": row.started_at,
        "last_active_at": row.last_active_at,
        "ended_at": row.ended_at,
        "hints_used": row.hints_used,
        "last_percent": row.last_percent,
        "exam_attempt": row.exam_attempt_id,
    }


def result_dict(row: Result, username: str) -> dict:
    return {
        "user": username,
        "lab": row.lab_id,
        "percent": row.percent,
        "score": row.score,
        "max_score": row.max_score,
        "passed": row.passed,
        "duration_s": row.duration_s,
        "hints_used": row.hints_used,
        "grader_version": row.grader_version,
        "submitted_at": row.submitted_at,
    }
