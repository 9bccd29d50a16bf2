// Browser check of the console's cluster view: opens /console of a running router (or of a
// single node with --expect-no-cluster) in Debian's chromium via playwright-core (installed
// for tests/console), and compares the cluster table with a fresh /v1/inspect/cluster.
//   node cluster_console_check.js --url http://127.0.0.1:PORT --out DIR [--expect-no-cluster 1]
// Exit 0 pass, 1 fail, 77 skipped (chromium or playwright-core missing).
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");

const SKIP = 77;
const CHROMIUM = process.env.KVACTOR_CHROMIUM || "/usr/bin/chromium";

async function main() {
  const args = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i + 1 < argv.length; i += 2) args[argv[i].replace(/^--/, "")] = argv[i + 1];
  let chromium;
  try {
    ({ chromium } = require(path.join(__dirname, "..", "console", "node_modules", "playwright-core")));
  } catch (e) {
    console.log("SKIP: playwright-core is not installed (tests/console/setup.sh)");
    return SKIP;
  }
  if (!fs.existsSync(CHROMIUM)) {
    console.log("SKIP: no chromium at " + CHROMIUM);
    return SKIP;
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "kvactor-cluster-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1280, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  const failures = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(args.url + "/console?interval=500");
    await page.waitForFunction(() => Number(document.body.dataset.renders) >= 2, null, { timeout: 15000 });
    await page.click("#pause");
    const view = await page.evaluate(() => ({
      hidden: document.getElementById("cluster-section").hidden,
      engineHidden: document.getElementById("actors-section").hidden,
      status: document.getElementById("status").dataset.state,
      rows: [...document.querySelectorAll("#cluster-table tbody tr")].map((tr) => ({
        node: tr.dataset.node, state: tr.dataset.state, cells: [...tr.cells].map((c) => c.textContent) })),
      routed: document.getElementById("cluster-routed").textContent,
      policy: document.getElementById("cluster-policy").textContent,
    }));
    if (args["expect-no-cluster"]) {
      if (!view.hidden) failures.push("a single node shows a cluster section");
      if (view.engineHidden) failures.push("a single node hides its engine views");
    } else {
      const truth = await (await fetch(args.url + "/v1/inspect/cluster")).json();
      if (view.hidden) failures.push("cluster section hidden on a router");
      if (!view.engineHidden) failures.push("engine views shown on a router");
      if (view.policy !== truth.policy) failures.push("policy " + view.policy + " != " + truth.policy);
      if (view.routed !== String(truth.requests.routed)) failures.push("routed " + view.routed + " != " + truth.requests.routed);
      if (view.rows.length !== truth.nodes.length) failures.push("rows " + view.rows.length + " != " + truth.nodes.length);
      truth.nodes.forEach((n, i) => {
        const row = view.rows[i] || { cells: [] };
        if (row.node !== n.address || row.state !== n.state) failures.push("row " + i + ": " + JSON.stringify(row));
        if (row.cells[8] !== String(n.routed)) failures.push("row " + i + " routed " + row.cells[8] + " != " + n.routed);
        if (row.cells[5] !== String(n.cached_pages)) failures.push("row " + i + " cached " + row.cells[5] + " != " + n.cached_pages);
      });
      if (args.out) await page.screenshot({ path: path.join(args.out, "cluster-console.png"), fullPage: true });
    }
    if (view.status !== "ok" && view.status !== "paused") failures.push("status " + view.status);
    if (errors.length) failures.push("browser errors: " + errors.slice(0, 3).join(" | "));
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (failures.length) {
    console.log("FAIL: " + failures.join("; "));
    return 1;
  }
  console.log("cluster console: PASS");
  return 0;
}

main().then((rc) => process.exit(rc), (e) => { console.log("FAIL:", e); process.exit(1); });
