// Browser test of the inspection console: a real server under load from scripts/loadtest.py,
// Debian's chromium driven by playwright-core, and the numbers on the page compared with
// /v1/inspect/*.
//
//   node console_test.js --kvactor BUILD/kvactor --models DIR --out DIR [--docs-screenshot PATH]
//   node console_test.js --fake tests/scripts/fake_kvactor_server.py --out DIR   (developing)
//
// Two kinds of comparison:
//  * under load: pause the page, then compare every rendered number with the exact
//    /v1/inspect/* response bodies the page received (captured from the network);
//  * after the load: the server is quiet, so the page is compared with fresh
//    /v1/inspect/* fetches made by this test (fields that move by themselves excluded).
// Exit 0 pass, 1 fail, 77 skipped (chromium, node or playwright-core missing).
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { SKIP, REPO, parseArgs, sleep, freePort, waitHealthy, startProcess, stopProcess, startServer, getJson,
  loadChromium, launchBrowser } = require("./console_harness");

const DEADLINE_MS = 240000;   // the whole test stops itself after this

function log(...args) { console.log("[console_test]", ...args); }

// ---- reading the page ---------------------------------------------------------------------
async function readPage(page) {
  return page.evaluate(() => {
    const txt = (id) => { const e = document.getElementById(id); return e ? e.textContent.trim() : null; };
    const rows = (tableId, key) => [...document.querySelectorAll("#" + tableId + " tbody tr")].map((tr) => {
      const o = { key: tr.getAttribute(key) };
      for (const td of tr.querySelectorAll("td[data-field]")) o[td.dataset.field] = td.textContent.trim();
      return o;
    });
    const nodes = [...document.querySelectorAll("#trie-tree .trie-node")].map((n) => ({
      page: Number(n.dataset.page), lock: Number(n.dataset.lockCount), hits: Number(n.dataset.hitCount),
      below: Number(n.dataset.pagesBelow) }));
    const ids = ["pages-total", "pages-free", "pages-private", "pages-cached_locked", "pages-cached_evictable",
      "grid-count-f", "grid-count-p", "grid-count-L", "grid-count-e", "trie-nodes", "trie-cached_pages",
      "trie-locked_nodes", "trie-max_depth", "trie-hits", "trie-evictions", "trie-policy", "trie-page_size",
      "metric-generated", "metric-finished"];
    const values = {};
    for (const id of ids) values[id] = txt(id);
    return { values, actors: rows("actors-table", "data-actor-id"), requests: rows("requests-table", "data-rid"),
      nodes, renderedNodes: Number(document.getElementById("trie-tree").dataset.renderedNodes),
      gridPages: Number(document.getElementById("page-grid").dataset.pages),
      invariants: document.getElementById("invariants").dataset.ok,
      renders: Number(document.body.dataset.renders), status: document.getElementById("status").dataset.state };
  });
}

// ---- comparing ----------------------------------------------------------------------------
class Checker {
  constructor(label) { this.label = label; this.failures = []; this.checks = 0; }
  eq(what, shown, expected) {
    this.checks++;
    const e = expected === null || expected === undefined ? "–" : String(expected);
    if (shown !== e) this.failures.push(`${this.label}: ${what}: page shows ${JSON.stringify(shown)}, server says ${JSON.stringify(e)}`);
  }
  near(what, shown, expected, tol) {
    this.checks++;
    if (expected === null || expected === undefined) return this.eq(what, shown, expected);
    if (!(Math.abs(Number(shown) - expected) <= tol)) this.failures.push(`${this.label}: ${what}: page shows ${shown}, server says ${expected}`);
  }
  ok(what, cond) { this.checks++; if (!cond) this.failures.push(`${this.label}: ${what}`); }
}

function flattenTree(tree) {
  const out = [];
  const walk = (n) => { for (const c of n.children || []) { out.push(c); walk(c); } };
  if (tree) walk(tree);
  return out;
}

// `quiet`: comparing with a later fetch, so skip what moves by itself (message counters
// count the inspections themselves; ages grow).
function compare(c, shown, { actors, cache, requests }, quiet) {
  const v = shown.values;
  const pages = cache.pages;
  for (const k of ["total", "free", "private", "cached_locked", "cached_evictable"]) c.eq("pages." + k, v["pages-" + k], pages[k]);
  const states = cache.page_states || "";
  for (const ch of ["f", "p", "L", "e"]) c.eq("grid count " + ch, v["grid-count-" + ch], [...states].filter((x) => x === ch).length);
  c.eq("grid cells", String(shown.gridPages), states.length);
  c.eq("invariants badge", shown.invariants, String(cache.invariants_ok === true));
  for (const k of ["nodes", "cached_pages", "locked_nodes", "max_depth", "hits", "evictions", "policy"]) c.eq("trie." + k, v["trie-" + k], cache.trie[k]);
  c.eq("page_size", v["trie-page_size"], cache.page_size);
  const nodes = flattenTree(cache.tree);
  c.eq("rendered trie nodes", String(shown.renderedNodes), nodes.length);
  const byPage = new Map(shown.nodes.map((n) => [n.page, n]));
  for (const n of nodes) {
    const s = byPage.get(n.page);
    c.ok("trie node for page " + n.page + " rendered", !!s);
    if (!s) continue;
    c.eq("node " + n.page + " lock_count", String(s.lock), n.lock_count);
    c.eq("node " + n.page + " hit_count", String(s.hits), n.hit_count);
    c.eq("node " + n.page + " pages_below", String(s.below), n.pages_below);
  }

  c.eq("actor rows", String(shown.actors.length), actors.actors.length);
  const actorRows = new Map(shown.actors.map((a) => [a.key, a]));
  for (const a of actors.actors) {
    const r = actorRows.get(a.id);
    c.ok("actor " + a.id + " rendered", !!r);
    if (!r) continue;
    c.eq("actor " + a.id + " kind", r.kind, a.kind);
    if (!quiet) {
      c.eq("actor " + a.id + " state", r.state, a.state);
      c.eq("actor " + a.id + " mailbox", r.mailbox_depth, a.mailbox_depth);
      c.eq("actor " + a.id + " messages", r.messages_handled, a.messages_handled);
    }
    c.ok("actor " + a.id + " msg/s is a rate", r.messages_per_s === "–" || Number(r.messages_per_s) >= 0);
  }

  const list = requests.requests;
  c.eq("request rows", String(shown.requests.length), list.length);
  const reqRows = new Map(shown.requests.map((r) => [r.key, r]));
  for (const r of list) {
    const s = reqRows.get(r.rid);
    c.ok("request " + r.rid + " rendered", !!s);
    if (!s) continue;
    for (const k of ["phase", "prompt_tokens", "generated_tokens", "max_tokens", "cached_tokens", "pages_held", "locked_pages"]) {
      c.eq("request " + r.rid + " " + k, s[k], r[k]);
    }
    c.eq("request " + r.rid + " kind", s.kind, r.kind || null);
    c.near("request " + r.rid + " ttft_ms", s.ttft_ms, r.ttft_ms, 0.051);
  }
}

// ---- main ---------------------------------------------------------------------------------
async function main() {
  const args = parseArgs(process.argv.slice(2));
  const chromium = loadChromium(log);
  if (!chromium) return SKIP;
  const outDir = path.resolve(args.out || path.join(os.tmpdir(), "kvactor-console-test"));
  fs.mkdirSync(outDir, { recursive: true });
  const port = await freePort();
  const base = "http://127.0.0.1:" + port;
  const children = [];
  let browser = null;
  const watchdog = setTimeout(() => { log("FAIL: test deadline reached"); for (const c of children) stopProcess(c); process.exit(1); }, DEADLINE_MS);
  try {
    let server;
    if (args.fake) {
      server = startProcess("python3", [args.fake, "--port", String(port), "--max-lifetime", "300"], path.join(outDir, "server.log"));
    } else {
      server = startServer(args, port, path.join(outDir, "server.log"));
    }
    children.push(server);
    await waitHealthy(base, server, 30000);
    log("server up at", base);

    browser = await launchBrowser(chromium);
    const page = browser.page;
    const consoleErrors = [];
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    // The latest body of each endpoint, exactly as the page received it.
    const received = {};
    page.on("response", async (resp) => {
      const u = new URL(resp.url());
      const key = { "/v1/inspect/actors": "actors", "/v1/inspect/cache": "cache", "/v1/inspect/requests": "requests" }[u.pathname];
      if (!key) return;
      try { received[key] = { body: await resp.json(), at: Date.now() }; } catch (_) { /* navigation */ }
    });
    await page.goto(base + "/console?interval=500");
    await page.waitForFunction(() => Number(document.body.dataset.renders) >= 2, null, { timeout: 15000 });

    // Load that keeps 8 requests in flight for 15 s whatever the server's speed (after each
    // of the 64 shared-prefix prompts was sent alone once, for the correctness check).
    const loadOut = path.join(outDir, "loadtest");
    const load = startProcess("python3", [path.join(REPO, "scripts", "loadtest.py"), "--url", base,
      "--workload", "shared-prefix", "--groups", "8", "--prompts-per-group", "8", "--system-len", "60",
      "--question-len", "12", "--output-len", "64", "--concurrency", "8", "--phase-duration", "15",
      "--max-duration", "120", "--max-requests", "5000", "--out", loadOut], path.join(outDir, "loadtest.log"));
    children.push(load);

    const underLoad = new Checker("under load");
    let samples = 0, busySamples = 0, shot = false;
    const loadStop = Date.now() + 100000;
    while (load.exitCode === null && Date.now() < loadStop) {
      await page.click("#pause");
      await sleep(300);   // let an in-flight poll land and render
      const before = Number(await page.evaluate(() => document.body.dataset.renders));
      await sleep(150);
      const shown = await readPage(page);
      if (process.env.KVACTOR_CONSOLE_TEST_DEBUG) log("view", Date.now() % 100000, "renders", before, shown.renders);
      if (shown.renders === before && received.actors && received.cache && received.requests) {
        compare(underLoad, shown, { actors: received.actors.body, cache: received.cache.body, requests: received.requests.body }, false);
        samples++;
        const live = received.requests.body.requests.filter((r) => ["queued", "prefill", "decode"].includes(r.phase)).length;
        if (live > 0) {
          busySamples++;
          if (!shot && busySamples >= 3) {
            await page.screenshot({ path: path.join(outDir, "console.png"), fullPage: false });
            shot = true;
          }
        }
      }
      await page.click("#pause");
      await sleep(500);
    }
    const loadStatus = await new Promise((resolve) => {
      if (load.exitCode !== null) return resolve(load.exitCode);
      load.on("exit", (code) => resolve(code));
      setTimeout(() => { stopProcess(load); resolve("killed"); }, 15000);
    });
    log(`under load: ${samples} frozen views compared (${busySamples} with live requests), ${underLoad.checks} checks`);

    // Quiet server: compare with fresh fetches made by the test itself.
    await sleep(1500);
    await page.click("#pause");
    await sleep(600);
    const quietShown = await readPage(page);
    const fresh = { actors: await getJson(base, "/v1/inspect/actors"),
      cache: await getJson(base, "/v1/inspect/cache?depth=8&max_nodes=256"),
      requests: await getJson(base, "/v1/inspect/requests") };
    const quiet = new Checker("after load");
    compare(quiet, quietShown, fresh, true);
    quiet.ok("requests finished by the load are listed", fresh.requests.requests.length > 0);
    quiet.ok("the trie holds the shared prefixes", fresh.cache.trie.nodes > 0);
    quiet.ok("the throughput chart has points", Number(await page.getAttribute("#chart-throughput", "data-points")) > 3);
    if (!shot) await page.screenshot({ path: path.join(outDir, "console.png") });
    if (args["docs-screenshot"]) {
      fs.copyFileSync(path.join(outDir, "console.png"), args["docs-screenshot"]);
      log("screenshot copied to", args["docs-screenshot"]);
    }

    // The server goes away: the page says so and keeps the last numbers it had.
    const browserErrors = consoleErrors.slice();   // after this, failed fetches are expected
    const lastTotal = (await readPage(page)).values["pages-total"];
    await page.click("#pause");   // resume polling
    stopProcess(server);
    let gone = true;
    try {
      await page.waitForFunction(() => document.getElementById("status").textContent === "server unreachable", null, { timeout: 10000 });
    } catch (_) { gone = false; }
    quiet.ok("the page reports an unreachable server", gone);
    quiet.eq("numbers kept after the server left", (await readPage(page)).values["pages-total"], lastTotal);

    const failures = [...underLoad.failures, ...quiet.failures];
    if (samples < 3) failures.push(`only ${samples} frozen views were compared under load (need 3)`);
    if (busySamples < 3) failures.push(`only ${busySamples} frozen views showed live requests (need 3): the page was hardly seen under load`);
    if (loadStatus !== 0) failures.push("loadtest.py exited with " + loadStatus + " (see " + loadOut + ".html)");
    if (browserErrors.length) failures.push("browser errors: " + browserErrors.slice(0, 5).join(" | "));
    log("screenshot:", path.join(outDir, "console.png"));
    if (failures.length) {
      for (const f of failures.slice(0, 40)) log("FAIL:", f);
      log(`${failures.length} failures`);
      return 1;
    }
    log(`PASS: ${underLoad.checks + quiet.checks} checks (${samples} views under load), loadtest passed`);
    return 0;
  } finally {
    clearTimeout(watchdog);
    if (browser) await browser.close();
    for (const c of children.reverse()) stopProcess(c);
  }
}

main().then((code) => process.exit(code), (e) => { log("FAIL:", e.stack || e); process.exit(1); });
