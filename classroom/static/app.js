// The classroom UI: a small single-page app over the JSON API (no framework, no CDN).
// Views: login, catalogue, lab page (task, terminal, editor, check/hint/submit), instructor dashboard.
"use strict";

const T = {
  en: { logout: "Log out", login: "Log in", user: "User name", password: "Password", labs: "Labs",
        dashboard: "Dashboard", start: "Start", open: "Open", best: "best", minutes: "min",
        deploy: "Save & deploy", check: "Check", hint: "Hint", submit: "Submit", stop: "Stop lab", reset: "Reset to starter",
        files: "Workspace files", terminal: "Terminal", topology: "Topology", feedback: "Feedback",
        starting: "Starting your lab…", running: "running", sessions: "Sessions (live)", results: "Results",
        trainee: "Trainee", lab: "Lab", state: "State", score: "Last score", hints: "Hints", time: "Time (min)",
        hidden: "hidden checks passed", saved: "Saved and deployed", newclass: "New class", create: "Create",
        import: "Import trainees (CSV: username,password,class)", importbtn: "Import", none: "none yet", other: "another lab runs",
        showpath: "show path", notopo: "no topology yet", up: "up", down: "down", notrunning: "not running (graded from the files)",
        connected: "connected to its controller", disconnected: "not connected to its controller",
        nocontroller: "running your flow files (no controller)", blame: "blamed rule:",
        legend: "hover a node or link for addresses and ports; a failed check draws its counterexample in red",
        admin: "Admin", users: "Users and roles", role: "Role", classes: "Classes", account: "Account", enabled: "enabled",
        disabled: "disabled", disable: "Disable", enable: "Enable", settings: "Server settings", capacity: "Capacity",
        sandboxes: "Running sandboxes", persandbox: "Per sandbox", hostload: "Host load (1/5/15 min)", memory: "Memory available",
        machine: "This machine allows", budget: "budget", measured: "measured", cpus: "CPUs", changed: "changed",
        validate: "Validate labs", validatebtn: "Validate", mode: "Mode", jobs: "Recent validations", item: "Item",
        result: "Result", problems: "Problems", solution: "solution", starter: "starter", step: "Step", steps: "Steps", by: "by",
        notrun: "not run", lastcheck: "Last check", cut: "cut:", nopath: "not drawn:", nocheck: "no check yet", pathsof: "paths of the last",
        validatehelp: "Runs sdnlab lab validate on the server: texts in both languages, skills and variants, hidden checks, the reference solution at 100% and the starter below it (a lab that needs a network is scored in a sandbox of its own, which counts against the server's sandboxes). One validation at a time." },
  ja: { logout: "ログアウト", login: "ログイン", user: "ユーザー名", password: "パスワード", labs: "ラボ一覧",
        dashboard: "ダッシュボード", start: "開始", open: "開く", best: "最高", minutes: "分",
        deploy: "保存してデプロイ", check: "チェック", hint: "ヒント", submit: "提出", stop: "ラボを停止", reset: "初期状態に戻す",
        files: "ワークスペースのファイル", terminal: "ターミナル", topology: "トポロジー", feedback: "結果",
        starting: "ラボを起動しています…", running: "実行中", sessions: "セッション（ライブ）", results: "成績",
        trainee: "受講者", lab: "ラボ", state: "状態", score: "最新スコア", hints: "ヒント", time: "時間（分）",
        hidden: "件の非公開チェックに合格", saved: "保存してデプロイしました", newclass: "新しいクラス", create: "作成",
        import: "受講者の一括登録（CSV: username,password,class）", importbtn: "登録", none: "まだありません", other: "別のラボが実行中",
        showpath: "経路を表示", notopo: "トポロジーはまだありません", up: "稼働", down: "停止", notrunning: "未起動（ファイルから採点）",
        connected: "コントローラーに接続済み", disconnected: "コントローラーに未接続",
        nocontroller: "フローファイルで動作中（コントローラーなし）", blame: "原因のルール:",
        legend: "ノードやリンクにカーソルを合わせるとアドレスとポートを表示。失敗したチェックの反例は赤で表示",
        admin: "管理", users: "ユーザーとロール", role: "ロール", classes: "クラス", account: "アカウント", enabled: "有効",
        disabled: "無効", disable: "無効にする", enable: "有効にする", settings: "サーバー設定", capacity: "容量",
        sandboxes: "実行中のサンドボックス", persandbox: "サンドボックスあたり", hostload: "ホスト負荷（1/5/15分）", memory: "空きメモリ",
        machine: "このマシンの上限", budget: "見積り", measured: "実測", cpus: "CPU数", changed: "変更しました",
        validate: "ラボの検証", validatebtn: "検証", mode: "モード", jobs: "最近の検証", item: "項目",
        result: "結果", problems: "問題", solution: "模範解答", starter: "初期状態", step: "段階", steps: "経過", by: "実行者",
        notrun: "未実行", lastcheck: "最新のチェック", cut: "切断:", nopath: "経路なし:", nocheck: "チェックはまだありません", pathsof: "経路: 最新の",
        validatehelp: "サーバーで sdnlab lab validate を実行します: 日英のテキスト、スキルと変種、非公開チェック、模範解答が100%で初期状態がそれ未満であること（ネットワークが必要なラボは専用のサンドボックスで採点し、サーバーのサンドボックス数に数えます）。同時に一つまで。" },
};
const state = { me: null, csrf: null, lang: localStorage.getItem("lang") || "en", poll: null, term: null, ws: null,
  topology: null, path: null, gen: 0 };
const $ = (sel) => document.querySelector(sel);
const t = (key) => T[state.lang][key] || key;
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

async function api(method, path, body, type) {
  const headers = {};
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = type || "application/json";
    payload = type ? body : JSON.stringify(body);
  }
  const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  const data = (res.headers.get("content-type") || "").includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw Object.assign(new Error((data && data.error) || res.statusText), { status: res.status });
  return data;
}

function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.hidden = true), 6000);
}

// Each navigation starts a new view generation: a view still loading when the trainee moved on
// stops at its next still() (it must not draw over the new page, open a terminal or start polling).
const still = (gen) => { if (gen !== state.gen) throw Object.assign(new Error("stale view"), { stale: true }); };
function every(gen, ms, work) {
  still(gen);
  state.poll = setInterval(() => work().catch(() => { /* the next round tries again */ }), ms);
}

function stopLive() {
  if (state.poll) clearInterval(state.poll);
  state.poll = null;
  if (state.ws) state.ws.close();
  state.ws = null;
  if (state.term) state.term.dispose();
  state.term = null;
}

function header() {
  $("#lang").textContent = state.lang === "en" ? "日本語" : "English";
  $("#logout").textContent = t("logout");
  $("#logout").hidden = !state.me;
  $("#who").textContent = state.me ? `${state.me.username} (${state.me.role})` : "";
  let nav = "";
  if (state.me) {
    nav += `<a href="#/labs">${t("labs")}</a>`;
    if (state.me.role !== "trainee") nav += `<a href="#/dashboard">${t("dashboard")}</a><a href="#/validate">${t("validate")}</a>`;
    if (state.me.role === "admin") nav += `<a href="#/admin">${t("admin")}</a>`;
  }
  $("#nav").innerHTML = nav;
}

// --- views ------------------------------------------------------------------------------
function viewLogin() {
  $("#main").innerHTML = `<form class="card login" id="login-form">
    <h2>${t("login")}</h2>
    <label>${t("user")}<input name="username" autocomplete="username" required></label>
    <label>${t("password")}<input name="password" type="password" autocomplete="current-password" required></label>
    <button class="primary" type="submit">${t("login")}</button>
    <p class="error" id="login-error"></p></form>`;
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    try {
      const answer = await api("POST", "/api/login", { username: form.get("username"), password: form.get("password") });
      state.csrf = answer.csrf_token;
      state.me = answer.user;
      location.hash = state.me.role === "trainee" ? "#/labs" : "#/dashboard";
      route();
    } catch (err) {
      $("#login-error").textContent = err.message;
    }
  });
}

async function viewLabs() {
  const gen = state.gen;
  const [{ labs }, session] = await Promise.all([api("GET", "/api/labs"), api("GET", "/api/session").catch(() => null)]);
  still(gen);
  const rows = labs.map((lab) => {
    const mine = session && session.lab === lab.id;
    const action = mine
      ? `<a href="#/lab/${esc(lab.id)}"><button class="primary">${t("open")}</button></a>`
      : `<button class="primary" data-start="${esc(lab.id)}" ${session ? "disabled title='" + t("other") + "'" : ""}>${t("start")}</button>`;
    const best = lab.best_percent == null ? "" : `${t("best")} ${esc(lab.best_percent)}%`;
    return `<tr><td>${esc(lab.number)}</td><td><a href="#/lab/${esc(lab.id)}">${esc(lab.title[state.lang] || lab.title.en)}</a></td>
      <td>${esc(lab.level)}</td><td>${esc(lab.minutes)} ${t("minutes")}</td><td>${best}</td><td>${action}</td></tr>`;
  });
  $("#main").innerHTML = `<div class="card"><h2>${t("labs")}</h2><table id="catalogue">${rows.join("")}</table></div>`;
  document.querySelectorAll("[data-start]").forEach((button) =>
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = t("starting");
      try {
        await api("POST", `/api/labs/${button.dataset.start}/start`);
        location.hash = `#/lab/${button.dataset.start}`;
      } catch (err) {
        toast(err.message);
        button.disabled = false;
        button.textContent = t("start");
      }
    }));
}

function renderFeedback(report) {
  const checks = report.checks.map((c, i) => `<li data-check="${esc(i)}" class="${c.paths && c.paths.length ? "traced" : ""}">
      <span class="${c.passed ? "pass" : "fail"}">${c.passed ? "PASS" : "FAIL"}</span>
      <b>${esc(c.id)}</b>: ${esc(c.description)} (${esc(c.passed_cases)}/${esc(c.cases)})
      ${c.paths && c.paths.length ? `<button class="link" data-path="${esc(i)}">${t("showpath")}</button>` : ""}
      ${c.details.length ? `<pre>${esc(c.details.slice(0, 3).join("\n\n"))}</pre>` : ""}</li>`);
  const hidden = report.hidden_checks && report.hidden_checks.total
    ? `<p>${esc(report.hidden_checks.passed)}/${esc(report.hidden_checks.total)} ${t("hidden")}</p>` : "";
  const notes = (report.notes || []).map((n) => `<p><i>${esc(n)}</i></p>`).join("");
  // how check graded: by replay (what the replayed conversation showed, message by message) or live and why
  const by = report.checked_by;
  const method = by ? `<div id="checked-by" class="checked-by ${by.replay ? "replay" : "live"}"><p>${esc(by.text)}</p>
      ${by.findings.map((f) => `<div class="finding" data-finding="${esc(f.check)}"><b>${esc(f.title)}</b>
        ${f.messages.length ? `<pre>${esc(f.messages.join("\n\n"))}</pre>` : ""}</div>`).join("")}</div>` : "";
  $("#feedback").innerHTML = `<p class="score" id="score">${esc(report.percent)}%</p>${method}${hidden}<ul>${checks.join("")}</ul>${notes}`;
  // the topology shows the first failed check's longest counterexample; any failed check's button shows its own
  const failed = report.checks.find((c) => !c.passed && c.paths && c.paths.length);
  state.path = failed ? longestPath(failed.paths) : null;
  drawTopology();
  document.querySelectorAll("[data-path]").forEach((button) => button.addEventListener("click", () => {
    state.path = longestPath(report.checks[Number(button.dataset.path)].paths);
    drawTopology();
    $("#topology").scrollIntoView({ block: "nearest" });
  }));
}

// the drawing itself is topology.js's (shared with the instructor's drill-down)
function drawTopology() {
  const el = $("#topology");
  if (el) el.innerHTML = renderTopology(state.topology, state.path, t);
}

async function viewLab(labId) {
  const gen = state.gen;
  const [lab, session] = await Promise.all([
    api("GET", `/api/labs/${labId}?lang=${state.lang}`),
    api("GET", "/api/session").catch(() => null),
  ]);
  still(gen);
  const mine = session && session.lab === labId;
  $("#main").innerHTML = `<div class="lab">
    <section class="card task"><h2>${esc(lab.number)}. ${esc(lab.title[state.lang] || lab.title.en)}</h2>${lab.task_html}</section>
    <section>${mine ? `
      <div class="card"><h3>${t("topology")}</h3><div id="topology" class="topology"></div></div>
      <div class="card"><h3>${t("terminal")}</h3><div id="terminal"></div></div>
      <div class="card"><h3>${t("files")}</h3><select id="files"></select>
        <textarea id="editor" spellcheck="false"></textarea>
        <div class="actions">
          <button class="primary" id="deploy">${t("deploy")}</button>
          <button class="primary" id="check">${t("check")}</button>
          <button id="hint">${t("hint")}</button>
          <button class="primary" id="submit">${t("submit")}</button>
          <span class="spacer"></span><button id="stop">${t("stop")}</button>
        </div>
        <div id="hints"></div></div>
      <div class="card feedback"><h3>${t("feedback")}</h3><div id="feedback">${t("none")}</div></div>`
      : `<div class="card"><button class="primary" id="start" ${session ? "disabled" : ""}>${t("start")}</button>
         ${session ? `<p>${t("other")}: ${esc(session.lab)}</p>` : ""}</div>`}
    </section></div>`;
  if (!mine) {
    const start = $("#start");
    start && start.addEventListener("click", async () => {
      start.disabled = true;
      start.textContent = t("starting");
      try { await api("POST", `/api/labs/${labId}/start`); route(); } catch (err) { toast(err.message); start.disabled = false; }
    });
    return;
  }
  state.topology = session.status && session.status.topology;
  state.path = null;
  drawTopology();
  every(gen, 5000, async () => { // the lab's live state while the page is open
    const now = await api("GET", "/api/session?touch=false"); // looking is not activity
    const topology = now.status && now.status.topology;
    if (now.lab !== labId || JSON.stringify(topology) === JSON.stringify(state.topology)) return; // unchanged: keep a hover
    state.topology = topology;
    drawTopology();
  });
  // the buttons work from the start; deploy waits until the editor holds the file (never saves an empty editor)
  const busy = async (button, work) => {
    button.disabled = true;
    try { await work(); } catch (err) { toast(err.message); } finally { button.disabled = false; }
  };
  $("#deploy").disabled = true;
  $("#deploy").addEventListener("click", (ev) => busy(ev.target, async () => {
    await api("PUT", `/api/session/files/${$("#files").value}`, { content: $("#editor").value });
    const answer = await api("POST", "/api/session/deploy");
    state.topology = answer.status && answer.status.topology;
    drawTopology();
    toast(t("saved"));
  }));
  $("#check").addEventListener("click", (ev) => busy(ev.target, async () => renderFeedback(await api("POST", `/api/session/check?lang=${state.lang}`))));
  $("#submit").addEventListener("click", (ev) => busy(ev.target, async () => renderFeedback(await api("POST", `/api/session/submit?lang=${state.lang}`))));
  $("#hint").addEventListener("click", (ev) => busy(ev.target, async () => {
    const hint = await api("POST", "/api/session/hint");
    $("#hints").insertAdjacentHTML("beforeend", `<p>${esc(hint.number)}/${esc(hint.total)}: ${esc(hint.text[state.lang] || hint.text.en)}</p>`);
  }));
  $("#stop").addEventListener("click", (ev) => busy(ev.target, async () => { await api("POST", "/api/session/stop"); location.hash = "#/labs"; }));
  openTerminal();
  const { files } = await api("GET", "/api/session/files");
  still(gen);
  $("#files").innerHTML = files.map((f) => `<option>${esc(f.path)}</option>`).join("");
  const load = async () => {
    $("#deploy").disabled = true;
    const { content } = await api("GET", `/api/session/files/${$("#files").value}`);
    $("#editor").value = content;
    $("#deploy").disabled = false;
  };
  $("#files").addEventListener("change", () => load().catch((err) => toast(err.message)));
  await load();
}

function openTerminal() {
  const term = new Terminal({ cursorBlink: true, fontSize: 13, convertEol: false });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open($("#terminal"));
  fit.fit();
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/session/terminal`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => ws.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
  ws.onmessage = (ev) => term.write(new Uint8Array(ev.data));
  ws.onclose = () => term.write("\r\n[terminal closed]\r\n");
  term.onData((data) => ws.readyState === 1 && ws.send(JSON.stringify({ type: "input", data })));
  state.term = term;
  state.ws = ws;
  window.classroomTerminal = term; // for tests: the rendered buffer
}

async function viewDashboard() {
  const gen = state.gen;
  $("#main").innerHTML = `<div class="card"><h2>${t("sessions")}</h2><table id="sessions"></table></div>
    <div class="card" id="drill" hidden></div>
    <div class="card"><h2>${t("results")}</h2><p><a href="/api/class/results?format=csv">CSV</a> · <a href="/api/class/results">JSON</a></p>
      <table id="results"></table></div>
    <div class="card"><h3>${t("newclass")}</h3><input id="class-name"> <button id="create-class">${t("create")}</button>
      <h3>${t("import")}</h3><textarea id="csv" rows="4" style="width:100%"></textarea><button id="import">${t("importbtn")}</button></div>`;
  $("#create-class").addEventListener("click", async () => {
    try { await api("POST", "/api/classes", { name: $("#class-name").value }); toast("ok"); } catch (err) { toast(err.message); }
  });
  $("#import").addEventListener("click", async () => {
    try { const r = await api("POST", "/api/users/import", $("#csv").value, "text/csv"); toast(r.created.join(", ")); } catch (err) { toast(err.message); }
  });
  const refresh = async () => {
    const [{ sessions }, { results }] = await Promise.all([api("GET", "/api/class/sessions"), api("GET", "/api/class/results")]);
    $("#sessions").innerHTML = `<tr><th>${t("trainee")}</th><th>${t("lab")}</th><th>${t("state")}</th><th>${t("score")}</th>
      <th>${t("hints")}</th><th>${t("time")}</th><th></th></tr>` + sessions.map((s) => `<tr data-user="${esc(s.user)}">
      <td><a href="#/dashboard" data-drill="${esc(s.id)}">${esc(s.user)}</a></td><td>${esc(s.lab)}</td><td>${esc(s.state)}</td><td class="last">${esc(s.last_percent ?? "")}</td>
      <td>${esc(s.hints_used)}</td><td>${esc(s.minutes)}</td>
      <td>${s.state === "running" ? `<button data-reset="${esc(s.id)}">${t("reset")}</button> <button data-stop="${esc(s.id)}">${t("stop")}</button>` : ""}</td></tr>`).join("");
    $("#results").innerHTML = `<tr><th>${t("trainee")}</th><th>${t("lab")}</th><th>%</th><th>${t("hints")}</th><th></th></tr>` +
      results.map((r) => `<tr data-result="${esc(r.user)}"><td>${esc(r.user)}</td><td>${esc(r.lab)}</td><td class="percent">${esc(r.percent)}</td>
      <td>${esc(r.hints_used)}</td><td>${new Date(r.submitted_at * 1000).toLocaleString()}</td></tr>`).join("");
    document.querySelectorAll("[data-drill]").forEach((a) => a.addEventListener("click", (ev) => {
      ev.preventDefault();
      drill(a.dataset.drill).catch((err) => toast(err.message));
    }));
    document.querySelectorAll("[data-reset]").forEach((b) => b.addEventListener("click", async () => {
      try { await api("POST", `/api/class/sessions/${b.dataset.reset}/reset`); toast("ok"); } catch (err) { toast(err.message); }
    }));
    document.querySelectorAll("[data-stop]").forEach((b) => b.addEventListener("click", async () => {
      try { await api("POST", `/api/class/sessions/${b.dataset.stop}/stop`); refresh(); } catch (err) { toast(err.message); }
    }));
  };
  await refresh();
  every(gen, 2000, refresh);
}

async function drill(sessionId) {
  const [d, drawing] = await Promise.all([
    api("GET", `/api/class/sessions/${sessionId}`),
    api("GET", `/api/class/sessions/${sessionId}/topology`),
  ]);
  const report = d.last_report;
  const checks = report ? report.checks.map((c) => `<li><span class="${c.passed ? "pass" : "fail"}">${c.passed ? "PASS" : "FAIL"}</span>
      ${c.hidden ? "(hidden) " : ""}<b>${esc(c.id)}</b> ${esc(c.passed_cases)}/${esc(c.cases)}
      ${c.details.length ? `<pre>${esc(c.details.slice(0, 2).join("\n\n"))}</pre>` : ""}</li>`).join("") : "";
  // the trainee's lab drawn as on their page (topology.js), with the paths of their last check or submit
  const traced = drawing.checks.filter((c) => !c.passed && c.paths && c.paths.length);
  // failed checks with nothing to draw say why (a quarantine list, a REST call, a VNF's counters...)
  const pathless = drawing.checks.filter((c) => !c.passed && !(c.paths && c.paths.length) && c.no_path);
  const attempt = drawing.attempt ? `${t("pathsof")} ${esc(drawing.attempt.kind)} (${esc(drawing.attempt.percent)}%)` : t("nocheck");
  $("#drill").hidden = false;
  $("#drill").innerHTML = `<h3>${esc(d.user)} · ${esc(d.lab)} · ${esc(d.state)}</h3>
    <p>${d.attempts.map((a) => `${esc(a.kind)} ${esc(a.percent)}%`).join(" · ") || t("none")}</p>
    <div class="drill-grid"><div><h4>${t("topology")}</h4><div id="drill-topology" class="topology"></div>
      <p class="muted">${attempt}${drawing.note ? " · " + esc(drawing.note) : ""}</p>
      <p id="drill-paths">${traced.map((c, i) => `<button class="link" data-drill-path="${esc(i)}">${c.hidden ? "(hidden) " : ""}${esc(c.id)}</button>`).join(" · ")}</p>
      ${pathless.length ? `<ul id="drill-nopaths" class="muted">${pathless.map((c) => `<li data-nopath="${esc(c.id)}">${c.hidden ? "(hidden) " : ""}<b>${esc(c.id)}</b>: ${t("nopath")} ${esc(c.no_path)}</li>`).join("")}</ul>` : ""}</div>
    <div><select id="drill-files">${d.files.map((f) => `<option>${esc(f.path)}</option>`).join("")}</select>
    <pre id="drill-file"></pre>${report ? `<p class="score">${esc(report.percent)}%</p><ul>${checks}</ul>` : ""}</div></div>`;
  const draw = (path) => { $("#drill-topology").innerHTML = renderTopology(drawing.topology, path, t); };
  draw(traced.length ? longestPath(traced[0].paths) : null);
  document.querySelectorAll("[data-drill-path]").forEach((button) => button.addEventListener("click", () =>
    draw(longestPath(traced[Number(button.dataset.drillPath)].paths))));
  const show = async () => {
    if (!$("#drill-files").value) return;
    $("#drill-file").textContent = (await api("GET", `/api/class/sessions/${sessionId}/files/${$("#drill-files").value}`)).content;
  };
  $("#drill-files").addEventListener("change", show);
  await show();
}

// --- lab validation (instructors): sdnlab lab validate as a job on the server, polled ------------
async function viewValidate(jobId) {
  const gen = state.gen;
  const { labs, jobs } = await api("GET", "/api/validations");
  still(gen);
  $("#main").innerHTML = `<div class="card"><h2>${t("validate")}</h2><p class="muted">${t("validatehelp")}</p>
      <select id="validate-lab">${labs.map((l) => `<option value="${esc(l.id)}">${esc(l.number)}. ${esc(l.title)} (${esc(l.id)})</option>`).join("")}</select>
      <label>${t("mode")} <select id="validate-mode"><option>auto</option><option>static</option><option>live</option></select></label>
      <button class="primary" id="validate-start">${t("validatebtn")}</button></div>
    <div class="card" id="validation" hidden></div>
    <div class="card"><h3>${t("jobs")}</h3><table id="validation-jobs"></table></div>`;
  const list = (items) => {
    $("#validation-jobs").innerHTML = items.map((j) => `<tr data-job="${esc(j.id)}"><td><a href="#/validate/${esc(j.id)}">#${esc(j.id)}</a></td>
      <td>${esc(j.lab)}</td><td>${esc(j.mode)}</td><td>${esc(j.by)}</td><td class="job-state">${esc(j.state)}</td><td>${esc(j.seconds)} s</td></tr>`).join("");
  };
  list(jobs);
  const show = (job) => {
    const r = job.report;
    const items = r ? r.items.map((i) => `<tr data-item="${esc(i.item)}" class="${i.state === "fail" ? "failed" : ""}">
        <td><span class="${i.state === "pass" ? "pass" : i.state === "fail" ? "fail" : "muted"}">${i.state === "pass" ? "PASS" : i.state === "fail" ? "FAIL" : t("notrun")}</span></td>
        <td><b>${esc(i.item)}</b><br><span class="muted">${esc(i.checks)}</span></td>
        <td>${i.problems.length ? `<pre>${esc(i.problems.join("\n"))}</pre>` : ""}</td></tr>`).join("") : "";
    const scores = r && r.solution_percent != null ? `<p>${t("solution")} <b id="solution-percent">${esc(r.solution_percent)}%</b> · ${t("starter")} <b id="starter-percent">${esc(r.starter_percent)}%</b> · ${esc(r.mode)} · ${esc(r.elapsed_s)} s</p>` : "";
    $("#validation").hidden = false;
    $("#validation").innerHTML = `<h3>#${esc(job.id)} ${esc(job.lab)} · <span id="validation-state">${esc(job.state)}</span>${r ? ` · <span class="${r.ok ? "pass" : "fail"}" id="validation-verdict">${r.ok ? "OK" : "FAIL"}</span>` : ""}</h3>
      <p>${t("step")}: <span id="validation-phase">${esc(job.phase)}</span> (${esc(job.seconds)} s) · ${t("by")} ${esc(job.by)}</p>
      ${job.error ? `<p class="error">${esc(job.error)}</p>` : ""}${scores}
      ${r ? `<table id="validation-items"><tr><th>${t("result")}</th><th>${t("item")}</th><th>${t("problems")}</th></tr>${items}</table>` : ""}
      <details><summary>${t("steps")}</summary><pre>${esc(job.steps.map((s) => `${s.at} s  ${s.text}`).join("\n"))}</pre></details>`;
  };
  const follow = async (id) => { // poll the job until it is over (and the list with it)
    const job = await api("GET", `/api/validations/${id}`);
    still(gen);
    show(job);
    if (job.state !== "running") {
      if (state.poll) clearInterval(state.poll);
      state.poll = null;
      list((await api("GET", "/api/validations")).jobs);
    }
    return job;
  };
  $("#validate-start").addEventListener("click", async (ev) => {
    ev.target.disabled = true;
    try {
      const job = await api("POST", "/api/validations", { lab: $("#validate-lab").value, mode: $("#validate-mode").value });
      location.hash = `#/validate/${job.id}`; // the route follows it
    } catch (err) { toast(err.message); } finally { ev.target.disabled = false; }
  });
  if (jobId) {
    const job = await follow(Number(jobId));
    if (job.state === "running") every(gen, 2000, () => follow(Number(jobId)));
  }
}

// --- admin: users and roles, the running settings, capacity -------------------------------------
async function viewAdmin() {
  const gen = state.gen;
  $("#main").innerHTML = `<div class="card"><h2>${t("users")}</h2><table id="users"></table></div>
    <div class="admin-grid"><div class="card"><h2>${t("capacity")}</h2><div id="capacity"></div></div>
    <div class="card"><h2>${t("settings")}</h2><table id="settings"></table></div></div>`;
  let asked = 0; // only the latest answer is drawn (an earlier, slower one would show an old state)
  const users = async () => {
    const ticket = ++asked;
    const { users: accounts } = await api("GET", "/api/users");
    if (ticket !== asked) return;
    const roles = ["trainee", "instructor", "admin"];
    $("#users").innerHTML = `<tr><th>${t("user")}</th><th>${t("role")}</th><th>${t("classes")}</th><th>${t("account")}</th><th></th></tr>` +
      accounts.map((u) => {
        const self = u.username === state.me.username;
        return `<tr data-account="${esc(u.username)}" class="${u.disabled ? "disabled" : ""}"><td>${esc(u.username)}</td>
        <td><select data-role="${esc(u.username)}" ${self ? "disabled" : ""}>${roles.map((r) => `<option ${r === u.role ? "selected" : ""}>${esc(r)}</option>`).join("")}</select></td>
        <td>${esc(u.classes.join(", "))}</td><td class="account-state">${u.disabled ? t("disabled") : t("enabled")}</td>
        <td>${self ? "" : `<button data-toggle="${esc(u.username)}" data-disabled="${esc(u.disabled)}">${u.disabled ? t("enable") : t("disable")}</button>`}</td></tr>`;
      }).join("");
    document.querySelectorAll("[data-role]").forEach((select) => select.addEventListener("change", async () => {
      try {
        const answer = await api("PATCH", `/api/users/${encodeURIComponent(select.dataset.role)}`, { role: select.value });
        toast(`${answer.username}: ${answer.role} (${t("changed")})`);
      } catch (err) { toast(err.message); }
      await users();
    }));
    document.querySelectorAll("[data-toggle]").forEach((button) => button.addEventListener("click", async () => {
      try {
        await api("PATCH", `/api/users/${encodeURIComponent(button.dataset.toggle)}`, { disabled: button.dataset.disabled !== "true" });
      } catch (err) { toast(err.message); }
      await users();
    }));
  };
  const capacity = async () => {
    const c = await api("GET", "/api/admin/capacity");
    const share = Math.min(100, Math.round((100 * c.running) / Math.max(1, c.max_sandboxes)));
    const measured = c.per_sandbox.measured;
    const memShare = c.host.mem_total_mib ? Math.round((100 * c.host.mem_available_mib) / c.host.mem_total_mib) : 0;
    $("#capacity").innerHTML = `<p>${t("sandboxes")}: <b id="running">${esc(c.running)}</b> / ${esc(c.max_sandboxes)}</p>
      <div class="bar"><span style="width:${esc(share)}%"></span></div>
      <p class="muted">${Object.entries(c.by_lab).map(([lab, n]) => `${esc(lab)} ${esc(n)}`).join(" · ")}</p>
      <p>${t("machine")}: ${esc(c.machine_limit.labs)} <span class="muted">(${esc(c.machine_limit.reason)})</span></p>
      <p>${t("persandbox")}: ${t("budget")} ${esc(c.per_sandbox.budget_mib)} MiB${measured ? ` · ${t("measured")} ${esc(measured.memory_mib)} MiB <span class="muted">(${esc(measured.source)}, ${esc(measured.trainees)} × ${esc(measured.lab)})</span>` : ""}</p>
      <p>${t("hostload")}: ${esc(c.host.load.join(" / "))} · ${t("cpus")} ${esc(c.host.cpus)}</p>
      <p>${t("memory")}: ${esc(c.host.mem_available_mib)} / ${esc(c.host.mem_total_mib)} MiB</p>
      <div class="bar mem"><span style="width:${esc(memShare)}%"></span></div>`;
  };
  const { settings, backend, database, labs } = await api("GET", "/api/admin/settings");
  still(gen);
  const value = (v) => esc(typeof v === "object" ? JSON.stringify(v) : v);
  $("#settings").innerHTML = [["backend", backend], ["database", database], ...Object.entries(settings), ["labs", labs.join(", ")]]
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${value(v)}</td></tr>`).join("");
  await Promise.all([users(), capacity()]);
  every(gen, 5000, capacity);
}

// --- routing -----------------------------------------------------------------------------
async function route() {
  const gen = ++state.gen;
  stopLive();
  header();
  if (!state.me) {
    try {
      const me = await api("GET", "/api/me");
      state.me = me;
      state.csrf = me.csrf_token;
      header();
    } catch (err) {
      return gen === state.gen ? viewLogin() : undefined;
    }
  }
  if (gen !== state.gen) return;
  const [, view, arg] = location.hash.split("/");
  try {
    if (view === "lab" && arg) return await viewLab(arg);
    if (view === "dashboard") return await viewDashboard();
    if (view === "admin") return await viewAdmin();
    if (view === "validate") return await viewValidate(arg);
    return await viewLabs();
  } catch (err) {
    if (err.stale || gen !== state.gen) return; // the page moved on
    if (err.status === 401) { state.me = null; return viewLogin(); }
    $("#main").innerHTML = `<p class="error">${esc(err.message)}</p>`;
  }
}

$("#lang").addEventListener("click", () => {
  state.lang = state.lang === "en" ? "ja" : "en";
  localStorage.setItem("lang", state.lang);
  document.documentElement.lang = state.lang;
  route();
});
$("#logout").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); } catch (err) { /* already logged out */ }
  state.me = null;
  state.csrf = null;
  location.hash = "";
  route();
});
window.addEventListener("hashchange", route);
route();
