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
        import: "Import trainees (CSV: username,password,class)", importbtn: "Import", none: "none yet", other: "another lab runs" },
  ja: { logout: "ログアウト", login: "ログイン", user: "ユーザー名", password: "パスワード", labs: "ラボ一覧",
        dashboard: "ダッシュボード", start: "開始", open: "開く", best: "最高", minutes: "分",
        deploy: "保存してデプロイ", check: "チェック", hint: "ヒント", submit: "提出", stop: "ラボを停止", reset: "初期状態に戻す",
        files: "ワークスペースのファイル", terminal: "ターミナル", topology: "トポロジー", feedback: "結果",
        starting: "ラボを起動しています…", running: "実行中", sessions: "セッション（ライブ）", results: "成績",
        trainee: "受講者", lab: "ラボ", state: "状態", score: "最新スコア", hints: "ヒント", time: "時間（分）",
        hidden: "件の非公開チェックに合格", saved: "保存してデプロイしました", newclass: "新しいクラス", create: "作成",
        import: "受講者の一括登録（CSV: username,password,class）", importbtn: "登録", none: "まだありません", other: "別のラボが実行中" },
};
const state = { me: null, csrf: null, lang: localStorage.getItem("lang") || "en", poll: null, term: null, ws: null };
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
    if (state.me.role !== "trainee") nav += `<a href="#/dashboard">${t("dashboard")}</a>`;
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
  const [{ labs }, session] = await Promise.all([api("GET", "/api/labs"), api("GET", "/api/session").catch(() => null)]);
  const rows = labs.map((lab) => {
    const mine = session && session.lab === lab.id;
    const action = mine
      ? `<a href="#/lab/${lab.id}"><button class="primary">${t("open")}</button></a>`
      : `<button class="primary" data-start="${lab.id}" ${session ? "disabled title='" + t("other") + "'" : ""}>${t("start")}</button>`;
    const best = lab.best_percent == null ? "" : `${t("best")} ${lab.best_percent}%`;
    return `<tr><td>${lab.number}</td><td><a href="#/lab/${lab.id}">${esc(lab.title[state.lang] || lab.title.en)}</a></td>
      <td>${esc(lab.level)}</td><td>${lab.minutes} ${t("minutes")}</td><td>${best}</td><td>${action}</td></tr>`;
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
  const checks = report.checks.map((c) => `<li><span class="${c.passed ? "pass" : "fail"}">${c.passed ? "PASS" : "FAIL"}</span>
      <b>${esc(c.id)}</b>: ${esc(c.description)} (${c.passed_cases}/${c.cases})
      ${c.details.length ? `<pre>${esc(c.details.slice(0, 3).join("\n\n"))}</pre>` : ""}</li>`);
  const hidden = report.hidden_checks && report.hidden_checks.total
    ? `<p>${report.hidden_checks.passed}/${report.hidden_checks.total} ${t("hidden")}</p>` : "";
  const notes = (report.notes || []).map((n) => `<p><i>${esc(n)}</i></p>`).join("");
  $("#feedback").innerHTML = `<p class="score" id="score">${report.percent}%</p>${hidden}<ul>${checks.join("")}</ul>${notes}`;
  // the topology: highlight the nodes on the first counterexample's path
  const failed = report.checks.find((c) => !c.passed && c.details.length);
  document.querySelectorAll("#topology .pill").forEach((pill) => {
    const name = pill.dataset.node;
    pill.classList.toggle("hit", Boolean(failed && new RegExp(`(^|[\\s(])${name}([\\s:)]|$)`, "m").test(failed.details[0])));
  });
}

function renderTopology(status) {
  const topo = status && status.topology;
  if (!topo) return "";
  const hosts = topo.hosts.map((h) => `<span class="pill" data-node="${esc(h.name)}">${esc(h.name)} ${esc(h.ip || "")}</span>`).join("");
  const switches = topo.switches.map((s) => `<span class="pill ${s.connected ? "up" : "down"}" data-node="${esc(s.name)}">${esc(s.name)}</span>`).join("");
  return `${hosts}<br>${switches}`;
}

async function viewLab(labId) {
  const [lab, session] = await Promise.all([
    api("GET", `/api/labs/${labId}?lang=${state.lang}`),
    api("GET", "/api/session").catch(() => null),
  ]);
  const mine = session && session.lab === labId;
  $("#main").innerHTML = `<div class="lab">
    <section class="card task"><h2>${lab.number}. ${esc(lab.title[state.lang] || lab.title.en)}</h2>${lab.task_html}</section>
    <section>${mine ? `
      <div class="card"><h3>${t("topology")}</h3><div id="topology">${renderTopology(session.status)}</div></div>
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
  openTerminal();
  const { files } = await api("GET", "/api/session/files");
  $("#files").innerHTML = files.map((f) => `<option>${esc(f.path)}</option>`).join("");
  const load = async () => { $("#editor").value = (await api("GET", `/api/session/files/${$("#files").value}`)).content; };
  $("#files").addEventListener("change", load);
  await load();
  const busy = async (button, work) => {
    button.disabled = true;
    try { await work(); } catch (err) { toast(err.message); } finally { button.disabled = false; }
  };
  $("#deploy").addEventListener("click", (ev) => busy(ev.target, async () => {
    await api("PUT", `/api/session/files/${$("#files").value}`, { content: $("#editor").value });
    const answer = await api("POST", "/api/session/deploy");
    $("#topology").innerHTML = renderTopology(answer.status);
    toast(t("saved"));
  }));
  $("#check").addEventListener("click", (ev) => busy(ev.target, async () => renderFeedback(await api("POST", `/api/session/check?lang=${state.lang}`))));
  $("#submit").addEventListener("click", (ev) => busy(ev.target, async () => renderFeedback(await api("POST", `/api/session/submit?lang=${state.lang}`))));
  $("#hint").addEventListener("click", (ev) => busy(ev.target, async () => {
    const hint = await api("POST", "/api/session/hint");
    $("#hints").insertAdjacentHTML("beforeend", `<p>${hint.number}/${hint.total}: ${esc(hint.text[state.lang] || hint.text.en)}</p>`);
  }));
  $("#stop").addEventListener("click", (ev) => busy(ev.target, async () => { await api("POST", "/api/session/stop"); location.hash = "#/labs"; }));
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
      <td><a href="#/dashboard" data-drill="${s.id}">${esc(s.user)}</a></td><td>${esc(s.lab)}</td><td>${esc(s.state)}</td><td class="last">${s.last_percent ?? ""}</td>
      <td>${s.hints_used}</td><td>${s.minutes}</td>
      <td>${s.state === "running" ? `<button data-reset="${s.id}">${t("reset")}</button> <button data-stop="${s.id}">${t("stop")}</button>` : ""}</td></tr>`).join("");
    $("#results").innerHTML = `<tr><th>${t("trainee")}</th><th>${t("lab")}</th><th>%</th><th>${t("hints")}</th><th></th></tr>` +
      results.map((r) => `<tr data-result="${esc(r.user)}"><td>${esc(r.user)}</td><td>${esc(r.lab)}</td><td class="percent">${r.percent}</td>
      <td>${r.hints_used}</td><td>${new Date(r.submitted_at * 1000).toLocaleString()}</td></tr>`).join("");
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
  state.poll = setInterval(() => refresh().catch(() => {}), 2000);
}

async function drill(sessionId) {
  const d = await api("GET", `/api/class/sessions/${sessionId}`);
  const report = d.last_report;
  const checks = report ? report.checks.map((c) => `<li><span class="${c.passed ? "pass" : "fail"}">${c.passed ? "PASS" : "FAIL"}</span>
      ${c.hidden ? "(hidden) " : ""}<b>${esc(c.id)}</b> ${c.passed_cases}/${c.cases}
      ${c.details.length ? `<pre>${esc(c.details.slice(0, 2).join("\n\n"))}</pre>` : ""}</li>`).join("") : "";
  $("#drill").hidden = false;
  $("#drill").innerHTML = `<h3>${esc(d.user)} · ${esc(d.lab)} · ${esc(d.state)}</h3>
    <p>${d.attempts.map((a) => `${a.kind} ${a.percent}%`).join(" · ") || t("none")}</p>
    <select id="drill-files">${d.files.map((f) => `<option>${esc(f.path)}</option>`).join("")}</select>
    <pre id="drill-file"></pre>${report ? `<p class="score">${report.percent}%</p><ul>${checks}</ul>` : ""}`;
  const show = async () => {
    if (!$("#drill-files").value) return;
    $("#drill-file").textContent = (await api("GET", `/api/class/sessions/${sessionId}/files/${$("#drill-files").value}`)).content;
  };
  $("#drill-files").addEventListener("change", show);
  await show();
}

// --- routing -----------------------------------------------------------------------------
async function route() {
  stopLive();
  header();
  if (!state.me) {
    try {
      const me = await api("GET", "/api/me");
      state.me = me;
      state.csrf = me.csrf_token;
      header();
    } catch (err) {
      return viewLogin();
    }
  }
  const [, view, arg] = location.hash.split("/");
  try {
    if (view === "lab" && arg) return await viewLab(arg);
    if (view === "dashboard") return await viewDashboard();
    return await viewLabs();
  } catch (err) {
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
