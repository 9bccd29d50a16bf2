// Browser test of the console against a server that requires an API key: the page asks for
// the key, a wrong key stays refused, the right one brings the page live, and the key is kept
// out of the URL, localStorage, the DOM and the server log.
//
//   node console_api_key_test.js --kvactor BUILD/kvactor --models DIR --out DIR
//
// Exit 0 pass, 1 fail, 77 skipped (chromium, node or playwright-core missing).
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { SKIP, parseArgs, sleep, freePort, waitHealthy, stopProcess, startServer, getJson, loadChromium,
  launchBrowser } = require("./console_harness");

const DEADLINE_MS = 60000;   // the whole test stops itself after this

function log(...args) { console.log("[console_api_key_test]", ...args); }

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const chromium = loadChromium(log);
  if (!chromium) return SKIP;
  const outDir = path.resolve(args.out || path.join(os.tmpdir(), "kvactor-console-api-key-test"));
  fs.mkdirSync(outDir, { recursive: true });
  // A fresh key per run, so finding it anywhere can only mean it leaked from this run.
  const key = "kv-" + crypto.randomBytes(16).toString("hex");
  const wrongKey = "kv-" + crypto.randomBytes(16).toString("hex");
  const port = await freePort();
  const base = "http://127.0.0.1:" + port;
  const serverLog = path.join(outDir, "server.log");
  let server = null;
  let browser = null;
  const watchdog = setTimeout(() => { log("FAIL: test deadline reached"); stopProcess(server); process.exit(1); }, DEADLINE_MS);
  const failures = [];
  const check = (what, cond) => { if (!cond) failures.push(what); };
  try {
    server = startServer(args, port, serverLog, { KVACTOR_API_KEY: key });
    await waitHealthy(base, server, 30000);
    log("server up at", base);
    // The test's own view of the server: protected without the key, readable with it.
    const bare = await fetch(base + "/v1/inspect/cache", { cache: "no-store" });
    check("/v1/inspect/cache without a key answers 401 (got " + bare.status + ")", bare.status === 401);

    browser = await launchBrowser(chromium);
    const page = browser.page;
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    const statusText = () => page.textContent("#status");
    const waitStatus = async (text, what) => {
      try {
        await page.waitForFunction((t) => document.getElementById("status").textContent === t, text, { timeout: 10000 });
        return true;
      } catch (_) {
        failures.push(what + `: status stays ${JSON.stringify(await statusText())}, error ${JSON.stringify(await page.textContent("#error"))}`);
        return false;
      }
    };

    // 1. No key: the page says so and offers the field.
    await page.goto(base + "/console?interval=500");
    await waitStatus("API key needed", "without a key");
    check("the key form is visible without a key", await page.isVisible("#api-key-form"));
    check("the error names the 401", /HTTP 401/.test(await page.textContent("#error")));
    check("no numbers are shown without a key", (await page.textContent("#pages-total")).trim() === "–");

    // 2. A wrong key: still refused, and said so.
    await page.fill("#api-key", wrongKey);
    await page.press("#api-key", "Enter");
    await waitStatus("API key refused", "with a wrong key");
    check("the error says the key was refused", /API key refused/.test(await page.textContent("#error")));
    check("the key form stays visible after a wrong key", await page.isVisible("#api-key-form"));
    check("no numbers are shown with a wrong key", (await page.textContent("#pages-total")).trim() === "–");

    // 3. The right key: live, the form goes away, and the numbers are the server's.
    await page.fill("#api-key", key);
    await page.click("#api-key-form button[type=submit]");
    if (await waitStatus("live", "with the right key")) {
      await page.waitForFunction(() => document.getElementById("pages-total").textContent.trim() !== "–", null, { timeout: 5000 })
        .catch(() => {});
      const cache = await getJson(base, "/v1/inspect/cache", key);
      const shown = (await page.textContent("#pages-total")).trim();
      check(`pages-total shows ${shown}, /v1/inspect/cache says ${cache.pages.total}`, shown === String(cache.pages.total));
      check("the key form is hidden once the key is accepted", !(await page.isVisible("#api-key-form")));
    }

    // 4. Where the key must not be: URL, localStorage, DOM (text, markup, the input's value).
    const where = await page.evaluate((k) => {
      const local = [];
      for (let i = 0; i < localStorage.length; i++) local.push(localStorage.key(i) + "=" + localStorage.getItem(localStorage.key(i)));
      return { url: location.href, local: local.join("\n"), text: document.body.innerText,
        markup: document.documentElement.outerHTML, input: document.getElementById("api-key").value,
        session: sessionStorage.getItem("kvactor-api-key") === k };
    }, key);
    check("the key is not in the page URL", !page.url().includes(key) && !where.url.includes(key));
    check("the key is not in localStorage", !where.local.includes(key));
    check("the key is not in the DOM text", !where.text.includes(key));
    check("the key is not in the DOM markup", !where.markup.includes(key));
    check("the key field is emptied after use", where.input === "");
    check("the key is kept in the tab's sessionStorage", where.session);
    check("no script errors in the page: " + pageErrors.slice(0, 3).join(" | "), pageErrors.length === 0);
    await page.screenshot({ path: path.join(outDir, "console_api_key.png") });
  } finally {
    clearTimeout(watchdog);
    if (browser) await browser.close();
    stopProcess(server);
  }
  await sleep(200);   // let the server write its last lines
  check("the key is not in the server log", !fs.readFileSync(serverLog, "utf8").includes(key));
  if (failures.length) {
    for (const f of failures) log("FAIL:", f);
    log(`${failures.length} failures (server log: ${serverLog})`);
    return 1;
  }
  log("PASS: prompted, wrong key refused, right key live, key kept out of URL/localStorage/DOM/log");
  return 0;
}

main().then((code) => process.exit(code), (e) => { log("FAIL:", e.stack || e); process.exit(1); });
