// kvactor inspection console: polls /v1/inspect/* and /metrics and renders them.
// Plain browser JavaScript, no framework, no build step, no network beyond this server.
// Every number on the page comes from one poll's snapshots (contract: http/API.md);
// rows and cells carry data-* attributes so tests can read them back.
"use strict";

(function () {
  const HISTORY_MS = 5 * 60 * 1000;   // charts show the last five minutes
  const CACHE_QUERY = "/v1/inspect/cache?depth=8&max_nodes=256";
  const state = {
    intervalMs: 1000, paused: false, timer: null, renders: 0,
    prevActors: null,          // {time_ms, byId: {id: messages_handled}}
    prevMetrics: null,         // {t, values}
    history: [],               // [{t, tokensPerS, requestsPerS, ttftMs, itlMs, e2eMs}]
    trieOpen: new Map(),       // page id -> open?; absent = default (top two levels open)
    snapshots: {},
  };
  window.kvconsole = state;    // for debugging from the devtools console

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const fmtInt = (v) => (v === null || v === undefined ? "–" : String(v));
  const fmtMs = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(1));
  const setText = (id, v) => { const e = $(id); if (e) e.textContent = fmtInt(v); };

  // A server started with an API key answers the inspect endpoints 401 without it. The key
  // typed into the header field lives in this tab's sessionStorage only (never in the URL,
  // never in localStorage) and goes out as "Authorization: Bearer".
  const KEY_STORAGE = "kvactor-api-key";
  const apiKey = () => sessionStorage.getItem(KEY_STORAGE) || "";
  async function request(path) {
    const key = apiKey();
    const r = await fetch(path, { cache: "no-store", headers: key ? { Authorization: "Bearer " + key } : {} });
    if (r.status === 401) {
      // Marked on the error, not in shared state: a poll still in flight with an old key
      // must not make a newer poll report a refusal.
      const err = new Error(path + ": HTTP 401 (" + (key ? "API key refused" : "this server needs an API key") + ")");
      err.unauthorized = key ? "refused" : "needed";
      throw err;
    }
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r;
  }
  const fetchJson = async (path) => (await request(path)).json();
  const fetchText = async (path) => (await request(path)).text();

  // A router (kvactor route) answers /v1/inspect/actors with its nodes' snapshots
  // ({"nodes": [...]}); only then is /v1/inspect/cluster asked for (a single node has no
  // cluster view and would answer 404).
  const isRouter = (actorsSnap) => !!actorsSnap && Array.isArray(actorsSnap.nodes) && !actorsSnap.actors;

  // ---- cluster (kvactor route) ---------------------------------------------------------------
  const fmtPct = (v) => (typeof v === "number" ? (v * 100).toFixed(1) + "%" : "–");
  function renderCluster(snap) {
    const section = $("cluster-section");
    section.hidden = !snap;
    if (!snap) return;
    const nodes = snap.nodes || [];
    const req = snap.requests || {};
    setText("cluster-policy", snap.policy);
    setText("cluster-up", nodes.filter((n) => n.state === "up").length + "/" + nodes.length);
    for (const k of ["routed", "prefix_routed", "retried", "node_lost"]) setText("cluster-" + k, req[k]);
    $("cluster-hit-rate").textContent = fmtPct(snap.hit_rate);
    const rows = nodes.map((n) => {
      const tr = el("tr", { "data-node": n.address, "data-state": n.state });
      const pages = n.pages || {};
      const cells = [[n.address, false], [n.state, false], [n.in_flight, true], [n.running, true],
        [n.queue_depth, true], [n.cached_pages, true], [pages.free, true], [fmtPct(n.hit_rate), true],
        [n.routed, true], [n.prefix_routed, true], [n.tree_tokens, true], [n.last_error || "", false]];
      for (const [v, num] of cells) tr.append(el("td", num ? { class: "num" } : {}, fmtInt(v)));
      return tr;
    });
    $("cluster-table").tBodies[0].replaceChildren(...rows);
  }

  // ---- actors ------------------------------------------------------------------------------
  function actorDetails(a) {
    // Lists (a scheduler's batch, running rids) are summarised by their length.
    return Object.entries(a.details || {}).map(([k, v]) =>
      k + " " + (Array.isArray(v) ? v.length + " items"
        : typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2)
        : v !== null && typeof v === "object" ? JSON.stringify(v) : v)).join(", ");
  }

  function renderActors(snap) {
    const tbody = $("actors-table").tBodies[0];
    const prev = state.prevActors;
    const dtS = prev ? (snap.time_ms - prev.time_ms) / 1000 : 0;
    const rows = [];
    const byId = {};
    for (const a of snap.actors || []) {
      byId[a.id] = a.messages_handled;
      let rate = null;
      if (prev && dtS > 0 && prev.byId[a.id] !== undefined) {
        rate = Math.max(0, (a.messages_handled - prev.byId[a.id]) / dtS);
      }
      const tr = el("tr", { "data-actor-id": a.id, "data-kind": a.kind });
      tr.append(
        el("td", { "data-field": "kind" }, a.kind),
        el("td", { "data-field": "id" }, a.id),
        el("td", { "data-field": "state", class: "state-" + a.state }, a.state),
        el("td", { "data-field": "mailbox_depth", class: "num" }, fmtInt(a.mailbox_depth)),
        el("td", { "data-field": "messages_handled", class: "num" }, fmtInt(a.messages_handled)),
        el("td", { "data-field": "messages_per_s", class: "num" }, rate === null ? "–" : rate.toFixed(1)),
        el("td", { "data-field": "details", class: "details", title: actorDetails(a) }, actorDetails(a)));
      rows.push(tr);
    }
    tbody.replaceChildren(...rows);
    $("actors-count").textContent = "(" + rows.length + ")";
    state.prevActors = { time_ms: snap.time_ms, byId };
  }

  // ---- requests ----------------------------------------------------------------------------
  function renderRequests(snap) {
    const tbody = $("requests-table").tBodies[0];
    const list = snap.requests || [];
    const rows = list.map((r) => {
      const tr = el("tr", { "data-rid": r.rid, "data-phase": r.phase });
      const num = (field, text) => el("td", { "data-field": field, class: "num" }, text);
      tr.append(
        el("td", { "data-field": "rid", title: r.request_id ? "x-request-id: " + r.request_id : "" }, r.rid),
        el("td", { "data-field": "kind" }, r.kind || "–"),
        el("td", { "data-field": "phase", class: "phase-" + r.phase }, r.phase),
        num("prompt_tokens", fmtInt(r.prompt_tokens)),
        num("generated_tokens", fmtInt(r.generated_tokens)),
        num("max_tokens", fmtInt(r.max_tokens)),
        num("cached_tokens", fmtInt(r.cached_tokens)),
        num("pages_held", fmtInt(r.pages_held)),
        num("locked_pages", fmtInt(r.locked_pages)),
        num("ttft_ms", fmtMs(r.ttft_ms)),
        num("age_ms", fmtMs(r.age_ms)));
      return tr;
    });
    tbody.replaceChildren(...rows);
    const live = list.filter((r) => !["done", "cancelled", "failed"].includes(r.phase)).length;
    $("requests-count").textContent = "(" + live + " live, " + (list.length - live) + " recent finished)";
  }

  // ---- page pool ---------------------------------------------------------------------------
  const PAGE_COLOURS = { f: "#e3e7ea", p: "#f0a030", L: "#c0392b", e: "#2e86c1" };

  function renderPool(snap) {
    const pages = snap.pages || {};
    for (const k of ["total", "free", "private", "cached_locked", "cached_evictable"]) setText("pages-" + k, pages[k]);
    const states = snap.page_states || "";
    const counts = { f: 0, p: 0, L: 0, e: 0 };
    for (const ch of states) if (ch in counts) counts[ch]++;
    for (const k of Object.keys(counts)) setText("grid-count-" + k, counts[k]);

    const canvas = $("page-grid");
    const width = Math.max(200, Math.floor(canvas.parentElement.clientWidth - 24));
    let cell = 12;
    while (cell > 2 && Math.ceil(states.length / Math.floor(width / cell)) * cell > 240) cell--;
    const cols = Math.max(1, Math.floor(width / cell));
    const rows = Math.max(1, Math.ceil(states.length / cols));
    canvas.width = cols * cell;
    canvas.height = rows * cell;
    canvas.dataset.pages = String(states.length);
    const ctx = canvas.getContext("2d");
    const gap = cell > 4 ? 1 : 0;
    for (let i = 0; i < states.length; i++) {
      ctx.fillStyle = PAGE_COLOURS[states[i]] || "#000";
      ctx.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - gap, cell - gap);
    }
    const inv = $("invariants");
    inv.dataset.ok = String(snap.invariants_ok === true);
    inv.textContent = snap.invariants_ok === true ? "invariants ok" : "INVARIANTS BROKEN";
  }

  // ---- prefix trie -------------------------------------------------------------------------
  function nodeLabel(n) {
    const first = Array.isArray(n.first_tokens) ? " [" + n.first_tokens.join(",") + (n.tokens > n.first_tokens.length ? ",…" : "") + "]" : "";
    return "page " + n.page + " · " + n.tokens + " tok" + first + " · below " + n.pages_below +
      " · locks " + n.lock_count + " · hits " + n.hit_count + " · age " + (n.age_ms / 1000).toFixed(1) + " s";
  }

  function renderNode(n, depth, counter) {
    counter.count++;
    const attrs = {
      "data-page": n.page, "data-lock-count": n.lock_count, "data-hit-count": n.hit_count,
      "data-pages-below": n.pages_below, "data-age-ms": n.age_ms, "data-depth": depth,
      class: "trie-node" + (n.lock_count > 0 ? " node-locked" : ""),
    };
    const kids = n.children || [];
    if (!kids.length) return el("div", Object.assign(attrs, { class: attrs.class + " leaf" }), nodeLabel(n));
    const d = el("details", attrs);
    const open = state.trieOpen.has(n.page) ? state.trieOpen.get(n.page) : depth < 2;
    if (open) d.open = true;
    d.append(el("summary", {}, nodeLabel(n) + " · " + kids.length + " children"));
    for (const c of kids) d.append(renderNode(c, depth + 1, counter));
    return d;
  }

  function renderTrie(snap) {
    const t = snap.trie || {};
    for (const k of ["nodes", "cached_pages", "locked_nodes", "max_depth", "hits", "evictions", "policy"]) setText("trie-" + k, t[k]);
    setText("trie-page_size", snap.page_size);
    const box = $("trie-tree");
    const root = snap.tree;
    if (!root) { box.replaceChildren(el("div", {}, "no tree")); return; }
    const counter = { count: 0 };
    const top = el("details", { open: "", "data-page": "-1", class: "trie-root" });
    top.append(el("summary", {}, "root · " + root.pages_below + " pages below · " + (root.children || []).length + " children" +
      (root.truncated ? " · (dump truncated)" : "")));
    for (const c of root.children || []) top.append(renderNode(c, 1, counter));
    const scroll = box.scrollTop;
    box.replaceChildren(top);
    box.scrollTop = scroll;
    box.dataset.renderedNodes = String(counter.count);
    box.dataset.truncated = String(!!root.truncated);
  }

  // ---- /metrics ----------------------------------------------------------------------------
  // Prometheus text -> [{name, labels, value}]; names are matched loosely so the console
  // survives metric renames that keep the words.
  function parseMetrics(text) {
    const out = [];
    for (const line of text.split("\n")) {
      if (!line || line[0] === "#") continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m) out.push({ name: m[1], labels: m[2] || "", value: Number(m[3]) });
    }
    return out;
  }
  const sumWhere = (samples, pred) => {
    let found = false, total = 0;
    for (const s of samples) if (pred(s)) { found = true; total += s.value; }
    return found ? total : null;
  };
  function metricValues(samples) {
    const plain = (re) => sumWhere(samples, (s) => re.test(s.name) && !/_(bucket|sum|count)$/.test(s.name) && !/le=/.test(s.labels));
    const hist = (re, part) => sumWhere(samples, (s) => re.test(s.name) && s.name.endsWith("_" + part));
    const scale = (re) => {
      const s = samples.find((x) => re.test(x.name) && x.name.endsWith("_sum"));
      return s && /seconds/.test(s.name) ? 1000 : 1;
    };
    const finished = sumWhere(samples, (s) =>
      (/requests?_finished/.test(s.name) && !/_(bucket|sum|count)$/.test(s.name)) ||
      (/^kvactor_requests(_total)?$/.test(s.name) && /finished/.test(s.labels)));
    const lat = {};
    for (const [key, re] of [["ttft", /(ttft|time_to_first_token)/], ["itl", /(itl|inter_token)/], ["e2e", /(e2e|end_to_end|request_latency|request_duration)/]]) {
      lat[key] = { sum: hist(re, "sum"), count: hist(re, "count"), scale: scale(re) };
    }
    return {
      finished, generated: plain(/generated_tokens(_total)?$/),
      running: plain(/_running(_requests)?$/), queue: plain(/queue_depth$/),
      hit: plain(/cache_hit_tokens(_total)?$/), queried: plain(/cache_queried_tokens(_total)?$/),
      lat,
    };
  }

  function renderMetrics(values, nowMs) {
    setText("metric-finished", values.finished);
    setText("metric-running", values.running);
    setText("metric-queue", values.queue);
    setText("metric-generated", values.generated);
    $("metric-hit-rate").textContent = values.queried ? (100 * values.hit / values.queried).toFixed(1) + "%" : "–";
    const prev = state.prevMetrics;
    if (prev) {
      const dt = (nowMs - prev.t) / 1000;
      const rate = (a, b) => (a === null || b === null || dt <= 0 ? null : Math.max(0, (a - b) / dt));
      const meanMs = (k) => {
        const a = values.lat[k], b = prev.values.lat[k];
        if (a.count === null || b.count === null || a.count <= b.count) return null;
        return ((a.sum - b.sum) / (a.count - b.count)) * a.scale;
      };
      state.history.push({
        t: nowMs, tokensPerS: rate(values.generated, prev.values.generated),
        requestsPerS: rate(values.finished, prev.values.finished),
        ttftMs: meanMs("ttft"), itlMs: meanMs("itl"), e2eMs: meanMs("e2e"),
      });
      while (state.history.length && state.history[0].t < nowMs - HISTORY_MS) state.history.shift();
    }
    state.prevMetrics = { t: nowMs, values };
    drawChart($("chart-throughput"), nowMs, "per second", [
      { name: "generated tokens/s", colour: "#1f77b4", key: "tokensPerS" },
      { name: "finished requests/s", colour: "#2ca02c", key: "requestsPerS" }]);
    drawChart($("chart-latency"), nowMs, "ms (interval mean)", [
      { name: "TTFT", colour: "#d62728", key: "ttftMs" },
      { name: "inter-token", colour: "#ff7f0e", key: "itlMs" },
      { name: "end-to-end", colour: "#9467bd", key: "e2eMs" }]);
  }

  // ---- SVG line chart over the history window ----------------------------------------------
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const mag = Math.pow(10, Math.floor(Math.log10(v)));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * mag >= v) return step * mag;
    return 10 * mag;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function drawChart(root, nowMs, yLabel, series) {
    const W = 560, H = 220, L = 52, R = 10, B = 28, T = 8 + 13 * series.length;
    const pw = W - L - R, ph = H - T - B;
    const vals = [];
    for (const s of series) for (const h of state.history) if (h[s.key] !== null) vals.push(h[s.key]);
    const ymax = niceMax(vals.length ? Math.max(...vals) : 0);
    // The window grows with the history, from one minute up to HISTORY_MS.
    const span = state.history.length ? nowMs - state.history[0].t : 0;
    const windowMs = Math.min(HISTORY_MS, Math.max(60000, Math.ceil(span / 60000) * 60000));
    const x = (t) => L + pw * (1 - (nowMs - t) / windowMs);
    const y = (v) => T + ph - (v / ymax) * ph;
    const parts = [];
    // Five bands: a nice maximum (1, 2, 2.5, 5 x 10^k) divides into round ticks.
    for (let i = 0; i <= 5; i++) {
      const v = (ymax * i) / 5;
      parts.push(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      parts.push(svg("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }, Number.isInteger(v) ? String(v) : v.toFixed(1)));
    }
    const tickMs = windowMs <= 60000 ? 10000 : 60000;
    for (let k = 0; k * tickMs <= windowMs; k++) {
      const label = k === 0 ? "now" : tickMs < 60000 ? "-" + (k * tickMs) / 1000 + " s" : "-" + k + " min";
      parts.push(svg("text", { x: x(nowMs - k * tickMs), y: H - 10, "text-anchor": "middle" }, label));
    }
    parts.push(svg("text", { x: 4, y: 14 }, yLabel));
    series.forEach((s, i) => {
      const pts = state.history.filter((h) => h[s.key] !== null).map((h) => x(h.t).toFixed(1) + "," + y(h[s.key]).toFixed(1));
      if (pts.length) parts.push(svg("polyline", { points: pts.join(" "), fill: "none", stroke: s.colour, "stroke-width": 1.8 }));
      const last = [...state.history].reverse().find((h) => h[s.key] !== null);
      parts.push(svg("text", { x: W - R - 200, y: 12 + 13 * i, fill: s.colour },
        s.name + ": " + (last ? last[s.key].toFixed(1) : "–")));
    });
    root.setAttribute("data-points", String(state.history.length));
    root.replaceChildren(...parts);
  }

  // ---- polling -----------------------------------------------------------------------------
  async function poll() {
    // A poll already in flight when "pause" is pressed still renders: the frozen view is
    // then exactly the last set of responses the page received.
    state.timer = null;
    if (state.paused) return;
    const started = Date.now();
    // Each source renders on its own: one failing endpoint does not blank the others.
    const [actors, cache, requests, metricsText] = await Promise.allSettled([
      fetchJson("/v1/inspect/actors"), fetchJson(CACHE_QUERY), fetchJson("/v1/inspect/requests"),
      fetchText("/metrics")]);
    const [cluster] = await Promise.allSettled([
      isRouter(actors.value) ? fetchJson("/v1/inspect/cluster") : Promise.resolve(null)]);
    const errors = [];
    const use = (result, render) => {
      if (result.status !== "fulfilled") { errors.push(String(result.reason && result.reason.message || result.reason)); return; }
      try { render(result.value); } catch (err) { errors.push("render: " + (err.message || err)); }
    };
    // Behind a router the engine views belong to the nodes: the cluster table replaces them.
    const router = isRouter(actors.value);
    for (const id of ["actors-section", "pool-section", "requests-section", "trie-section"]) $(id).hidden = router;
    if (!router) {
      use(actors, renderActors);
      use(requests, renderRequests);
      use(cache, (c) => { renderPool(c); renderTrie(c); });
    }
    use(metricsText, (t) => renderMetrics(metricValues(parseMetrics(t)), Date.now()));
    use(cluster, renderCluster);
    state.snapshots = { actors: actors.value, cache: cache.value, requests: requests.value, metrics: metricsText.value,
      cluster: cluster.value };
    state.renders++;
    document.body.dataset.renders = String(state.renders);
    const unauthorized = [actors, cache, requests, cluster]
      .map((r) => r.status === "rejected" && r.reason && r.reason.unauthorized).find(Boolean);
    // The key field shows only while the server refuses the data calls.
    $("api-key-form").hidden = !unauthorized;
    const allFailed = errors.length >= 4;
    if (!allFailed) $("last-update").textContent = new Date().toLocaleTimeString();
    $("status").dataset.state = errors.length ? "error" : "ok";
    $("status").textContent = allFailed ? "server unreachable" : unauthorized === "refused" ? "API key refused"
      : unauthorized ? "API key needed"
      : errors.length ? "partial data" : "live";
    $("error").textContent = errors.join(" · ");
    schedule(Math.max(0, state.intervalMs - (Date.now() - started)));
  }
  function schedule(delay) {
    if (state.timer !== null) clearTimeout(state.timer);
    state.timer = state.paused ? null : setTimeout(poll, delay);
  }

  function init() {
    const params = new URLSearchParams(location.search);
    const fromUrl = Number(params.get("interval"));
    if (fromUrl >= 100) state.intervalMs = fromUrl;
    const sel = $("interval");
    if (![...sel.options].some((o) => Number(o.value) === state.intervalMs)) {
      sel.append(el("option", { value: state.intervalMs }, state.intervalMs / 1000 + " s"));
    }
    sel.value = String(state.intervalMs);
    sel.addEventListener("change", () => { state.intervalMs = Number(sel.value); schedule(0); });
    $("pause").addEventListener("click", () => {
      state.paused = !state.paused;
      $("pause").textContent = state.paused ? "resume" : "pause";
      $("pause").setAttribute("aria-pressed", String(state.paused));
      $("status").dataset.state = state.paused ? "paused" : "ok";
      $("status").textContent = state.paused ? "paused" : "live";
      schedule(0);
    });
    // details' toggle event does not bubble: listen in the capture phase.
    $("trie-tree").addEventListener("toggle", (ev) => {
      const page = Number(ev.target.dataset.page);
      if (!Number.isNaN(page) && page >= 0) state.trieOpen.set(page, ev.target.open);
    }, true);
    const setAll = (open) => {
      for (const d of $("trie-tree").querySelectorAll("details.trie-node")) {
        state.trieOpen.set(Number(d.dataset.page), open);
        d.open = open;
      }
    };
    $("trie-expand").addEventListener("click", () => setAll(true));
    $("trie-collapse").addEventListener("click", () => setAll(false));
    $("chart-window").textContent = String(HISTORY_MS / 60000);
    const keyForm = $("api-key-form");
    keyForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const key = $("api-key").value.trim();
      if (key) sessionStorage.setItem(KEY_STORAGE, key); else sessionStorage.removeItem(KEY_STORAGE);
      $("api-key").value = "";
      schedule(0);
    });
    poll();
  }

  init();
})();
