// What the console browser tests share: command-line parsing, the server and load processes
// on an ephemeral port, and Debian's chromium driven by playwright-core.
"use strict";

const { spawn } = require("child_process");
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");

const SKIP = 77;
const REPO = path.resolve(__dirname, "..", "..");
const CHROMIUM = process.env.KVACTOR_CHROMIUM || "/usr/bin/chromium";

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error("unexpected argument " + a);
    out[a.slice(2)] = argv[i + 1];
    i++;
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => { const p = srv.address().port; srv.close(() => resolve(p)); });
    srv.on("error", reject);
  });
}

async function waitHealthy(base, child, ms) {
  const stop = Date.now() + ms;
  while (Date.now() < stop) {
    if (child.exitCode !== null) throw new Error("server exited early with status " + child.exitCode);
    try { const r = await fetch(base + "/health"); if (r.ok) return; } catch (_) { /* not up yet */ }
    await sleep(200);
  }
  throw new Error("server not healthy after " + ms + " ms");
}

// `env`: variables added to this process's environment (the API key goes this way, never
// on the command line).
function startProcess(cmd, args, logFile, env) {
  const out = fs.openSync(logFile, "w");
  // From the repository root: the server finds console/ there.
  const child = spawn(cmd, args, { cwd: REPO, stdio: ["ignore", out, out], env: { ...process.env, ...(env || {}) } });
  child.on("error", (e) => console.log("failed to start", cmd, e.message));
  return child;
}

function stopProcess(child) {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
}

// `kvactor serve` on the tiny model from the models directory.
function startServer(args, port, logFile, env) {
  if (!args.kvactor || !args.models) throw new Error("need --kvactor BIN --models DIR");
  return startProcess(args.kvactor, ["serve", "--model", path.join(args.models, "stories260K.bin"),
    "--tokenizer", path.join(args.models, "tok512.bin"), "--host", "127.0.0.1", "--port", String(port),
    ...(args["serve-args"] ? args["serve-args"].split(" ") : [])], logFile, env);
}

async function getJson(base, p, apiKey) {
  const headers = apiKey ? { Authorization: "Bearer " + apiKey } : {};
  const r = await fetch(base + p, { cache: "no-store", headers });
  if (!r.ok) throw new Error(p + ": HTTP " + r.status);
  return r.json();
}

// playwright-core's chromium launcher, or null (after saying why) when the test must skip.
function loadChromium(log) {
  let chromium;
  try {
    ({ chromium } = require(path.join(__dirname, "node_modules", "playwright-core")));
  } catch (e) {
    log("SKIP: playwright-core is not installed (run tests/console/setup.sh):", e.message);
    return null;
  }
  if (!fs.existsSync(CHROMIUM)) {
    log("SKIP: no chromium at " + CHROMIUM + " (apt-get install chromium)");
    return null;
  }
  return chromium;
}

// A headless browser on a throw-away profile; close() shuts it and removes the profile.
async function launchBrowser(chromium, viewport) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "kvactor-chromium-"));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, viewport: viewport || { width: 1280, height: 1400 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page = context.pages()[0] || await context.newPage();
    const close = async () => {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    };
    return { context, page, close };
  } catch (e) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}

module.exports = { SKIP, REPO, CHROMIUM, parseArgs, sleep, freePort, waitHealthy, startProcess, stopProcess,
  startServer, getJson, loadChromium, launchBrowser };
