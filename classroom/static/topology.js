// The topology drawing, shared by the trainee's lab page and the instructor's drill-down (app.js):
// a layered SVG of the lab (switches, hosts, links) and, when given, a counterexample's path.
// Pure functions of the topology (as /api/session and /api/class/sessions/{id}/topology answer
// it) and a path ({src, dst, hops: [{switch, in_port, out_port}], outcome, blame, down: [[a, b]]}:
// down lists the links the check cut, drawn cut); the caller
// passes its label function t(key) (the UI's languages). No globals of app.js are used.
"use strict";

const topoEsc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

// Layers: hosts at the bottom; each switch sits one layer above the nearest host (breadth-first
// from every host at once). Within a layer, nodes are ordered by the mean position of their
// neighbours in the layer below and above (a few sweeps), which keeps links from crossing much.
function topologyLayout(topo) {
  const names = [...topo.switches.map((s) => s.name), ...topo.hosts.map((h) => h.name)];
  const isHost = new Set(topo.hosts.map((h) => h.name));
  const nbrs = new Map(names.map((n) => [n, []]));
  for (const l of topo.links) {
    if (nbrs.has(l.a) && nbrs.has(l.b)) { nbrs.get(l.a).push(l.b); nbrs.get(l.b).push(l.a); }
  }
  const depth = new Map(topo.hosts.map((h) => [h.name, 0]));
  const queue = topo.hosts.map((h) => h.name);
  while (queue.length) {
    const n = queue.shift();
    for (const m of nbrs.get(n)) if (!depth.has(m)) { depth.set(m, depth.get(n) + 1); queue.push(m); }
  }
  for (const n of names) if (!depth.has(n)) depth.set(n, isHost.has(n) ? 0 : 1); // unlinked nodes
  const top = Math.max(1, ...depth.values());
  const layers = Array.from({ length: top + 1 }, () => []);
  for (const n of names) layers[top - depth.get(n)].push(n); // the core on top, hosts at the bottom
  const order = new Map();
  layers.forEach((layer) => layer.forEach((n, i) => order.set(n, (i + 0.5) / layer.length)));
  const row = new Map();
  layers.forEach((layer, r) => layer.forEach((n) => row.set(n, r)));
  // the mean position of a node's neighbours in row r (its own position when it has none there)
  const mean = (n, r) => {
    const o = nbrs.get(n).filter((m) => row.get(m) === r).map((m) => order.get(m));
    return o.length ? o.reduce((a, b) => a + b) / o.length : order.get(n);
  };
  for (let sweep = 0; sweep < 6; sweep++) { // down from the core, then up from the hosts
    const down = sweep % 2 === 0;
    for (let r = down ? 1 : top - 1; down ? r <= top : r >= 0; r += down ? 1 : -1) {
      const ref = down ? r - 1 : r + 1;
      const key = new Map(layers[r].map((n) => [n, mean(n, ref)]));
      layers[r].sort((x, y) => key.get(x) - key.get(y));
      layers[r].forEach((n, i) => order.set(n, (i + 0.5) / layers[r].length));
    }
  }
  const width = Math.max(520, ...layers.map((l) => l.length * 96));
  const height = 70 + top * 110;
  const pos = new Map();
  layers.forEach((layer, row) => layer.forEach((n, i) =>
    pos.set(n, { x: Math.round(((i + 0.5) * width) / layer.length), y: 40 + row * 110 })));
  return { pos, width, height, isHost };
}

// The counterexample's path on the drawing: nodes crossed, links taken, where it stopped, what is blamed.
function pathOn(topo, path) {
  const nodes = new Set([path.src]);
  const links = new Set();
  const linkAt = (node, port) => topo.links.find((l) => (l.a === node && l.a_port === port) || (l.b === node && l.b_port === port));
  const between = (x, y) => topo.links.find((l) => (l.a === x && l.b === y) || (l.a === y && l.b === x));
  let previous = path.src;
  for (const hop of path.hops) {
    const into = linkAt(hop.switch, hop.in_port);
    const link = into && (into.a === previous || into.b === previous) ? into : between(previous, hop.switch);
    if (link) links.add(link);
    nodes.add(hop.switch);
    previous = hop.switch;
  }
  const last = path.hops[path.hops.length - 1];
  if (last && last.out_port != null) { // the packet left the last switch: follow the wire to a host
    const out = linkAt(last.switch, last.out_port);
    if (out) { links.add(out); nodes.add(out.a === last.switch ? out.b : out.a); }
  }
  const cut = new Set((path.down || []).map(([a, b]) => between(a, b)).filter(Boolean));
  for (const link of cut) links.delete(link); // the packets never crossed a cut link: drawn cut, not hit
  const dropped = /^(dropped|lost)/.test(path.outcome || "") && last ? last.switch : null;
  return { nodes, links, cut, dropped, blamed: path.blame ? path.blame.switch : null };
}

function renderTopology(topo, path, t) {
  if (!topo || !topo.hosts) return `<p>${t("notopo")}</p>`;
  const { pos, width, height, isHost } = topologyLayout(topo);
  const on = path ? pathOn(topo, path) : { nodes: new Set(), links: new Set(), cut: new Set(), dropped: null, blamed: null };
  const hosts = new Map(topo.hosts.map((h) => [h.name, h]));
  const switches = new Map(topo.switches.map((s) => [s.name, s]));
  const running = topo.phase === "ready";
  const lines = topo.links.filter((l) => pos.has(l.a) && pos.has(l.b)).map((l) => {
    const a = pos.get(l.a), b = pos.get(l.b);
    const cls = ["link", l.up === false ? "down" : "", on.links.has(l) ? "hit" : "", on.cut.has(l) ? "cut" : ""].join(" ");
    return `<g class="${cls}" data-link="${topoEsc(l.a)}-${topoEsc(l.b)}"><title>${topoEsc(l.a)}:${topoEsc(l.a_port ?? "?")} — ${topoEsc(l.b)}:${topoEsc(l.b_port ?? "?")} (${l.up === false ? t("down") : t("up")})</title>
      <line x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}"/>
      ${isHost.has(l.a) ? "" : `<text class="port" x="${a.x + (b.x - a.x) * 0.22}" y="${a.y + (b.y - a.y) * 0.22 - 3}">${topoEsc(l.a_port ?? "")}</text>`}
      ${isHost.has(l.b) ? "" : `<text class="port" x="${b.x + (a.x - b.x) * 0.22}" y="${b.y + (a.y - b.y) * 0.22 - 3}">${topoEsc(l.b_port ?? "")}</text>`}
      ${on.cut.has(l) ? `<text class="cross" x="${(a.x + b.x) / 2}" y="${(a.y + b.y) / 2 + 5}">✕</text>` : ""}</g>`;
  });
  const nodes = [...pos.entries()].map(([name, { x, y }]) => {
    const hit = on.nodes.has(name) ? " hit" : "";
    const mark = (on.dropped === name ? " dropped" : "") + (on.blamed === name ? " blamed" : "");
    if (isHost.has(name)) {
      const h = hosts.get(name);
      const end = path && (name === path.src || name === path.dst) ? " end" : "";
      return `<g class="node host${hit}${end}" data-node="${topoEsc(name)}"><title>${topoEsc(name)} ${topoEsc(h.ip || "")} ${topoEsc(h.mac || "")} ${topoEsc(h.role || "")}</title>
        <circle cx="${x}" cy="${y}" r="15"/><text x="${x}" y="${y + 4}">${topoEsc(name)}</text>
        <text class="addr" x="${x}" y="${y + 30}">${topoEsc(h.ip || "")}</text></g>`;
    }
    const s = switches.get(name);
    const status = !running ? "idle" : topo.controller === "none" ? "ready" : s.connected ? "up" : "down";
    return `<g class="node switch ${status}${hit}${mark}" data-node="${topoEsc(name)}"><title>${topoEsc(name)}: ${t({ idle: "notrunning", ready: "nocontroller", up: "connected", down: "disconnected" }[status])}${on.blamed === name && path.blame.where ? " — " + topoEsc(path.blame.where) : ""}</title>
      <rect x="${x - 26}" y="${y - 14}" width="52" height="28" rx="6"/><text x="${x}" y="${y + 4}">${topoEsc(name)}</text>
      ${on.dropped === name ? `<text class="cross" x="${x + 30}" y="${y - 12}">✕</text>` : ""}</g>`;
  });
  const caption = path ? `<p class="path" id="path-caption"><b>${topoEsc(path.src)} → ${topoEsc(path.dst)}</b>: ${topoEsc(path.outcome || "")}
      ${path.blame ? ` · ${t("blame")} <b>${topoEsc(path.blame.switch)}</b> ${topoEsc(path.blame.where || "")}` : ""}
      ${path.down && path.down.length ? ` · ${t("cut")} ${path.down.map((p) => topoEsc(p.join("-"))).join(", ")}` : ""}</p>` : "";
  const legend = `<p class="legend">${running ? "" : t("notrunning") + " · "}${t("legend")}</p>`;
  return `<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${t("topology")}">${lines.join("")}${nodes.join("")}</svg>${caption}${legend}`;
}


// The longest of a check's counterexample paths (the one the drawing shows for that check).
const longestPath = (paths) => paths.reduce((a, b) => (b.hops.length > a.hops.length ? b : a));

if (typeof module !== "undefined") module.exports = { topologyLayout, pathOn, renderTopology, longestPath }; // node tests
