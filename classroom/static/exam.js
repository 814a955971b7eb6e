// Exams in the classroom UI: a panel above the page (app.js keeps #main).
// Trainees: their scheduled exams (start), and while an attempt runs a bar with the countdown,
// the tasks (switch), check / hint / submit; "time is up" at the deadline, then the result and
// certificate links (JSON, printable page, PDF in English and Japanese); "cancelled" when the
// instructor cancelled the exam. Instructors: schedule an exam for a class, cancel it, the results
// per exam (CSV too, the certificates' PDFs).
// Uses app.js's globals (state, api, esc, toast); loaded after it.
"use strict";

const EX = {
  en: { exams: "Exams", start: "Start", left: "left", task: "Task", check: "Check task", hint: "Hint",
        submit: "Hand in", timeup: "Time is up: your exam is being graded as it was at the time limit.",
        result: "Result", passed: "passed", failed: "not passed", cert: "Certificate (JSON)", page: "Printable page",
        pdf: "PDF", cancelled: "The instructor cancelled this exam: your attempt was closed without a result (it does not count against your attempts).",
        surecancel: "Cancel this exam? Attempts in progress are closed without a result.",
        none: "No exams scheduled for your classes.", attempts: "attempts left", schedule: "Schedule an exam",
        klass: "Class", opens: "Opens", closes: "Closes", minutes: "Minutes", hints: "Hints allowed",
        results: "Results", cancel: "Cancel", sure: "Hand in the exam now?", hidden: "hidden checks (graded at the end)",
        timeupdone: "Time is up: your exam was submitted automatically at the time limit.",
        current: "current", open: "Open the task's lab", text: "The task as set for you (your variant: addresses and names may differ from the lab page)" },
  ja: { exams: "試験", start: "開始", left: "残り", task: "課題", check: "課題をチェック", hint: "ヒント",
        submit: "提出", timeup: "時間切れです。制限時刻の状態で採点しています。",
        result: "結果", passed: "合格", failed: "不合格", cert: "認定証 (JSON)", page: "印刷用ページ",
        pdf: "PDF", cancelled: "講師がこの試験を取り消しました。受験中の回は結果なしで終了しました（受験回数には数えません）。",
        surecancel: "この試験を取り消しますか？受験中の回は結果なしで終了します。",
        none: "あなたのクラスに予定された試験はありません。", attempts: "残り受験回数", schedule: "試験を予定する",
        klass: "クラス", opens: "開始", closes: "終了", minutes: "時間（分）", hints: "ヒントを許可",
        results: "成績", cancel: "取り消す", sure: "今すぐ提出しますか？", hidden: "件の非公開チェック（終了時に採点）",
        timeupdone: "時間切れです。制限時刻に自動的に提出されました。",
        current: "実施中", open: "課題のラボを開く", text: "あなたに出題された課題（個別の変種: アドレスや名前がラボのページと異なる場合があります）" },
};
const ex = { attempt: null, offset: 0, panel: false, timer: null, lastFetch: 0 };
const et = (key) => (EX[state.lang] || EX.en)[key] || key;

function examPanel() {
  let el = document.getElementById("exam-panel");
  if (!el) {
    el = document.createElement("section");
    el.id = "exam-panel";
    el.style.cssText = "margin:0.5rem 1rem;padding:0.5rem 1rem;border:1px solid #888;border-radius:6px;background:#fffbe6";
    el.hidden = true;
    document.getElementById("main").before(el);
  }
  return el;
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function pdfLinks(attempt) {
  return ["en", "ja"].map((lang) => `<a class="cert-pdf" href="/api/me/certificates/${esc(attempt)}/pdf?lang=${esc(lang)}" target="_blank">${et("pdf")} (${lang === "en" ? "English" : "日本語"})</a>`).join(" · ");
}

function renderResult(a) {
  if (a.status === "cancelled") return `<p class="exam-cancelled error">${et("cancelled")}</p>`;
  const r = a.result;
  if (!r) return "";
  const tasks = r.tasks.map((x) => `<li>${et("task")} ${esc(x.task)} (${esc(x.lab)}): ${esc(x.percent)}% · ${esc(x.checks_passed)}/${esc(x.checks_total)}</li>`).join("");
  const links = r.certificate
    ? ` <a href="/api/me/certificates/${esc(a.attempt)}" download>${et("cert")}</a> · <a href="/api/me/certificates/${esc(a.attempt)}/page?lang=${state.lang}" target="_blank">${et("page")}</a> · ${pdfLinks(a.attempt)}`
    : "";
  return `<p id="exam-result"><strong>${et("result")}: ${esc(r.percent)}% — ${r.passed ? et("passed") : et("failed")}</strong>${links}</p><ul>${tasks}</ul>`;
}

function renderAttempt() {
  const a = ex.attempt;
  const el = examPanel();
  if (!a) return;
  if (a.status !== "running") {
    el.hidden = false;
    const auto = a.result && a.result.auto_submitted ? `<p id="exam-timeup" class="error">${et("timeupdone")}</p>` : "";
    el.innerHTML = `<h3>${esc(a.title[state.lang] || a.title.en)}</h3>${auto}${renderResult(a)}`;
    return;
  }
  const left = a.deadline - (Date.now() / 1000 + ex.offset);
  const tasks = a.tasks.map((x) => `<button data-task="${esc(x.task)}" ${x.task === a.current_task ? "class='primary'" : ""}
      title="${esc(x.public_checks.join("\n"))}">${et("task")} ${esc(x.task)}: ${esc(x.title[state.lang] || x.title.en)}
      (${esc(x.hidden_checks)} ${et("hidden")})</button>`).join(" ");
  el.hidden = false;
  el.innerHTML = `<div style="display:flex;gap:1rem;align-items:center;flex-wrap:wrap">
      <strong>${esc(a.title[state.lang] || a.title.en)}</strong>
      <span id="exam-countdown" style="font:bold 1.4rem monospace">${left > 0 ? clock(left) + " " + et("left") : ""}</span>
      ${tasks}
      <a href="#/lab/${esc(a.tasks[a.current_task - 1].lab)}">${et("open")}</a>
      <button id="exam-check">${et("check")}</button>
      ${a.hints.allowed ? `<button id="exam-hint">${et("hint")} (−${esc(a.hints.cost_percent)})</button>` : ""}
      <button id="exam-submit" class="primary">${et("submit")}</button></div>
      <p id="exam-timeup" class="error" ${left > 0 ? "hidden" : ""}>${et("timeup")}</p><div id="exam-out"></div>
      <details id="exam-text"><summary>${et("text")}</summary>${(a.task_html || {})[state.lang] || ""}</details>`;
  el.querySelectorAll("[data-task]").forEach((b) => b.addEventListener("click", () => act(async () => {
    ex.attempt = await api("POST", "/api/exam/task", { task: Number(b.dataset.task) });
    location.hash = `#/lab/${ex.attempt.tasks[ex.attempt.current_task - 1].lab}`;
    route();
  })));
  el.querySelector("#exam-check").addEventListener("click", () => act(async () => {
    const r = await api("POST", "/api/exam/check");
    el.querySelector("#exam-out").innerHTML = `<p>${esc(r.percent)}% · ${esc(r.checks_passed)}/${esc(r.checks_total)}</p><ul>` +
      r.checks.map((c) => `<li>${c.passed ? "✔" : "✘"} ${esc(c.id)}: ${esc(c.description)}${(c.details || []).map((d) => `<pre>${esc(d)}</pre>`).join("")}</li>`).join("") + "</ul>";
  }));
  const hint = el.querySelector("#exam-hint");
  if (hint) hint.addEventListener("click", () => act(async () => {
    const h = await api("POST", "/api/exam/hint");
    el.querySelector("#exam-out").innerHTML = `<p>${et("hint")} ${esc(h.number)}/${esc(h.total)} (−${esc(h.points_lost)}): ${esc(h.text[state.lang] || h.text.en)}</p>`;
  }));
  el.querySelector("#exam-submit").addEventListener("click", () => {
    if (confirm(et("sure"))) act(async () => { ex.attempt = await api("POST", "/api/exam/submit"); renderAttempt(); });
  });
}

async function act(fn) {
  try { await fn(); } catch (err) { toast(err.message); }
}

async function refreshAttempt() {
  ex.lastFetch = Date.now();
  try {
    const a = await api("GET", "/api/exam");
    ex.offset = a.now - Date.now() / 1000;
    const changed = !ex.attempt || ex.attempt.status !== a.status || ex.attempt.current_task !== a.current_task || ex.attempt.attempt !== a.attempt;
    ex.attempt = a;
    if (changed) renderAttempt();
  } catch (err) {
    if (err.status === 409 || err.status === 401) ex.attempt = null;  // no attempt (or logged out)
    else ex.lastFetch = Date.now() - 8000;  // a passing failure: try again in a couple of seconds
  }
}

function tick() {
  const link = document.getElementById("exams-link");
  if (!state.me) {
    link.hidden = true;
    examPanel().hidden = true;
    ex.attempt = null;
    ex.panel = false;
    return;
  }
  link.hidden = false;
  link.textContent = et("exams");
  if (state.me.role === "trainee" && !ex.panel) {
    const a = ex.attempt;
    const running = a && a.status === "running";
    if (Date.now() - ex.lastFetch > (running ? 10000 : 30000)) refreshAttempt();
    if (running) {
      const left = a.deadline - (Date.now() / 1000 + ex.offset);
      const count = document.getElementById("exam-countdown");
      if (count) count.textContent = left > 0 ? `${clock(left)} ${et("left")}` : "0:00";
      if (left <= 0) {
        const up = document.getElementById("exam-timeup");
        if (up) up.hidden = false;
        if (Date.now() - ex.lastFetch > 2000) refreshAttempt();
      }
    }
  }
}

// --- the exams panel (nav entry) ---------------------------------------------------------
async function showExams() {
  ex.panel = true;
  const el = examPanel();
  el.hidden = false;
  if (state.me.role === "trainee") {
    const { exams } = await api("GET", "/api/exams");
    el.innerHTML = `<h3>${et("exams")}</h3>` + (exams.length ? "" : `<p>${et("none")}</p>`) + exams.map((e) => `
      <div class="exam-row"><strong>${esc(e.title[state.lang] || e.title.en)}</strong> · ${esc(e.state)} ·
      ${new Date(e.opens_at * 1000).toLocaleString()} – ${new Date(e.closes_at * 1000).toLocaleString()} ·
      ${esc(e.minutes)} min · ${et("attempts")}: ${esc(e.attempts_left)}
      ${e.state === "open" && e.attempts_left ? `<button class="primary" data-start="${esc(e.id)}">${et("start")}</button>` : ""}
      ${e.my_attempts.map((a) => renderResult({ attempt: a.attempt, status: a.status, result: a.result })).join("")}</div>`).join("");
    el.querySelectorAll("[data-start]").forEach((b) => b.addEventListener("click", () => act(async () => {
      b.disabled = true;
      ex.attempt = await api("POST", `/api/exams/${b.dataset.start}/start`);
      ex.panel = false;
      location.hash = `#/lab/${ex.attempt.tasks[0].lab}`;
      renderAttempt();
      route();
    })));
    return;
  }
  const [{ exams }, { scheduled }] = await Promise.all([api("GET", "/api/exams/catalogue"), api("GET", "/api/exams/scheduled")]);
  const options = exams.filter((e) => e.schedulable).map((e) => `<option value="${esc(e.id)}">${esc(e.title[state.lang] || e.title.en)} (${esc(e.minutes)} min)</option>`).join("");
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const now = new Date();
  el.innerHTML = `<h3>${et("schedule")}</h3><form id="exam-form" style="display:flex;gap:0.5rem;flex-wrap:wrap;align-items:end">
      <select name="exam">${options}</select>
      <label>${et("klass")} <input name="class" required size="10"></label>
      <label>${et("opens")} <input name="opens" type="datetime-local" value="${local(now)}"></label>
      <label>${et("closes")} <input name="closes" type="datetime-local" value="${local(new Date(now.getTime() + 3600000))}"></label>
      <label>${et("minutes")} <input name="minutes" type="number" min="1" max="600" size="4"></label>
      <label><input name="hints" type="checkbox" checked> ${et("hints")}</label>
      <button class="primary">${et("schedule")}</button></form>
      <h3>${et("exams")}</h3><table id="exam-scheduled">${scheduled.map((s) => `<tr><td>${esc(s.id)}</td>
      <td>${esc(s.title[state.lang] || s.title.en)}</td><td>${esc(s.class)}</td><td>${esc(s.state)}</td>
      <td>${new Date(s.opens_at * 1000).toLocaleString()} – ${new Date(s.closes_at * 1000).toLocaleString()}</td>
      <td><button data-results="${esc(s.id)}">${et("results")}</button> <a href="/api/exams/scheduled/${esc(s.id)}/results?format=csv">CSV</a>
      ${s.state === "cancelled" ? "" : `<button data-cancel="${esc(s.id)}">${et("cancel")}</button>`}</td></tr>`).join("")}</table>
      <div id="exam-results"></div>`;
  el.querySelector("#exam-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = { exam: f.get("exam"), class: f.get("class"), opens_at: new Date(f.get("opens")).getTime() / 1000,
                   closes_at: new Date(f.get("closes")).getTime() / 1000, hints_allowed: f.get("hints") === "on" };
    if (f.get("minutes")) body.minutes = Number(f.get("minutes"));
    act(async () => { await api("POST", "/api/exams/scheduled", body); await showExams(); });
  });
  el.querySelectorAll("[data-cancel]").forEach((b) => b.addEventListener("click", () => {
    if (confirm(et("surecancel"))) act(async () => {
      await api("POST", `/api/exams/scheduled/${b.dataset.cancel}/cancel`);
      await showExams();
    });
  }));
  el.querySelectorAll("[data-results]").forEach((b) => b.addEventListener("click", () => act(async () => {
    const { results } = await api("GET", `/api/exams/scheduled/${b.dataset.results}/results`);
    el.querySelector("#exam-results").innerHTML = `<table id="exam-results-table"><tr><th>user</th><th>#</th><th>status</th>
      <th>%</th><th>passed</th><th>hints</th><th>auto</th><th>certificate</th><th>evidence</th></tr>` + results.map((r) => `<tr>
      <td>${esc(r.user)}</td><td>${esc(r.number)}</td><td>${esc(r.status)}</td><td>${esc(r.percent ?? "")}</td><td>${esc(r.passed ?? "")}</td>
      <td>${esc(r.hints_used)}</td><td>${esc(r.auto_submitted)}</td><td>${r.certificate ? pdfLinks(r.attempt) : "—"}</td>
      <td>${r.status === "submitted" ? `<a href="/api/exams/attempts/${esc(r.attempt)}/evidence">zip</a>` : ""}</td></tr>`).join("") + "</table>";
  })));
}

document.getElementById("exams-link").addEventListener("click", (ev) => {
  ev.preventDefault();
  if (ex.panel) { ex.panel = false; examPanel().hidden = true; renderAttempt(); return; }
  act(showExams);
});
setInterval(tick, 1000);
