// The topology viewer: state from rest_topology, changes from ws_topology (JSON-RPC calls).
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  const SVG = "http://www.w3.org/2000/svg";
  const state = { switches: new Map(), links: new Map(), hosts: new Map(), events: [] };
  window.sdnlabTopology = state; // read by tests and the curious

  function headers() {
    return token ? { Authorization: "Bearer " + token } : {};
  }

  async function getJson(path) {
    const answer = await fetch(path, { headers: headers(), cache: "no-store" });
    if (!answer.ok) throw new Error(path + ": HTTP " + answer.status);
    return answer.json();
  }

  function dpidNumber(hex) { return parseInt(hex, 16); }
  function linkKey(l) { return l.src.dpid + ":" + l.src.port_no + "-" + l.dst.dpid + ":" + l.dst.port_no; }

  function addSwitch(s) { state.switches.set(s.dpid, s); }
  function delSwitch(s) {
    state.switches.delete(s.dpid);
    for (const [k, l] of state.links) if (l.src.dpid === s.dpid || l.dst.dpid === s.dpid) state.links.delete(k);
  }
  function addLink(l) { state.links.set(linkKey(l), l); }
  function delLink(l) { state.links.delete(linkKey(l)); }
  function addHost(h) { state.hosts.set(h.mac, h); }

  const handlers = {
    event_switch_enter: addSwitch,
    event_switch_leave: delSwitch,
    event_link_add: addLink,
    event_link_delete: delLink,
    event_host_add: addHost,
  };

  function setStatus(text, cls) {
    const el = document.getElementById("status");
    el.textContent = text;
    el.className = cls || "";
  }

  function positions() {
    const dpids = [...state.switches.keys()].sort((a, b) => dpidNumber(a) - dpidNumber(b));
    const at = new Map();
    const cx = 500, cy = 320, r = dpids.length > 1 ? 220 : 0;
    dpids.forEach((d, i) => {
      const angle = (2 * Math.PI * i) / dpids.length - Math.PI / 2;
      at.set(d, { x: cx + r * Math.cos(angle), y: cy + r * Math.sin(angle) });
    });
    return at;
  }

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function draw() {
    const svg = document.getElementById("topology");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const at = positions();
    const drawn = new Set();
    for (const l of state.links.values()) {
      const a = at.get(l.src.dpid), b = at.get(l.dst.dpid);
      const pair = [l.src.dpid, l.dst.dpid].sort().join("-");
      if (!a || !b || drawn.has(pair)) continue;
      drawn.add(pair);
      svg.appendChild(el("line", { class: "link", x1: a.x, y1: a.y, x2: b.x, y2: b.y, "data-link": pair }));
    }
    const perSwitch = new Map();
    for (const h of state.hosts.values()) {
      const s = at.get(h.port.dpid);
      if (!s) continue;
      const i = perSwitch.get(h.port.dpid) || 0;
      perSwitch.set(h.port.dpid, i + 1);
      const angle = Math.atan2(s.y - 320, s.x - 500) + (i - 0.5) * 0.5;
      const hx = s.x + 90 * Math.cos(angle || i), hy = s.y + 90 * Math.sin(angle || i) + (s.y === 320 && s.x === 500 ? 60 : 0);
      svg.appendChild(el("line", { class: "host-link", x1: s.x, y1: s.y, x2: hx, y2: hy }));
      const g = el("g", { class: "host", "data-mac": h.mac });
      g.appendChild(el("circle", { cx: hx, cy: hy, r: 9 }));
      g.appendChild(el("text", { x: hx, y: hy + 22 }, (h.ipv4 && h.ipv4[0]) || h.mac));
      svg.appendChild(g);
    }
    for (const [dpid, p] of at) {
      const g = el("g", { class: "switch", "data-dpid": dpid });
      g.appendChild(el("rect", { x: p.x - 34, y: p.y - 16, width: 68, height: 32 }));
      g.appendChild(el("text", { x: p.x, y: p.y }, "s" + dpidNumber(dpid)));
      svg.appendChild(g);
    }
    const pairs = drawn.size;
    document.getElementById("counts").textContent =
      state.switches.size + " switches, " + pairs + " links, " + state.hosts.size + " hosts";
  }

  function follow() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const protocols = token ? ["sdnlab.token." + token] : [];
    const ws = new WebSocket(scheme + location.host + "/v1.0/topology/ws", protocols);
    ws.onopen = () => { setStatus("live", "live"); load(); }; // (re)load after subscribing: nothing missed
    ws.onclose = () => { setStatus("disconnected: retrying", "down"); setTimeout(follow, 2000); };
    ws.onmessage = (message) => {
      let call;
      try { call = JSON.parse(message.data); } catch (e) { return; }
      const handler = handlers[call.method];
      if (handler && Array.isArray(call.params)) {
        handler(call.params[0]);
        state.events.push(call.method);
        draw();
      }
      if (call.id !== undefined) ws.send(JSON.stringify({ jsonrpc: "2.0", id: call.id, result: "" }));
    };
  }

  async function load() {
    try {
      const [switches, links, hosts] = await Promise.all([
        getJson("/v1.0/topology/switches"), getJson("/v1.0/topology/links"), getJson("/v1.0/topology/hosts"),
      ]);
      switches.forEach(addSwitch);
      links.forEach(addLink);
      hosts.forEach(addHost);
      draw();
      state.loaded = true;
    } catch (e) {
      setStatus(String(e.message || e), "down");
    }
  }

  follow();
})();
