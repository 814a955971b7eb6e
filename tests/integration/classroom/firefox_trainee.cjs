// A trainee's session in Firefox (Debian's firefox-esr, driven over WebDriver BiDi by puppeteer-core).
// Usage: node firefox_trainee.cjs URL USER PASSWORD LAB SWITCH   (NODE_PATH: vendor/node_modules)
// LIVE_MS and ANSWER_MS: how long to wait for a sandbox's work and for a quick answer (the test
// passes classroom_client's values).
// Logs in, starts LAB from the catalogue, waits for the topology and terminal, types
// `ovs-ofctl dump-flows SWITCH` and reads its output from the terminal, checks and reads the
// feedback and the counterexample drawn on the topology, stops the lab. Prints one JSON line of
// what it saw; a screenshot of the lab page after the check to FIREFOX_SHOT when set (of the page
// where it stopped, as NAME-failed.png, when a step fails: then it exits 1 with the error).
"use strict";
const puppeteer = require("puppeteer-core");

const [url, user, password, lab, sw] = process.argv.slice(2);
const FIREFOX = process.env.FIREFOX || "/usr/bin/firefox-esr";
const LIVE_MS = Number(process.env.LIVE_MS || 240000); // a lab started or stopped, a live check
const ANSWER_MS = Number(process.env.ANSWER_MS || 30000); // a quick answer, a page drawn from it
const screen = () => { // the terminal's rendered buffer (xterm.js), as the trainee sees it
  const b = window.classroomTerminal.buffer.active;
  let s = "";
  for (let i = 0; i < b.length; i++) s += b.getLine(i).translateToString(true) + "\n";
  return s;
};

(async () => {
  const browser = await puppeteer.launch({ browser: "firefox", executablePath: FIREFOX, headless: true });
  const page = await browser.newPage();
  page.setDefaultTimeout(ANSWER_MS);
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  try {
    await page.setViewport({ width: 1400, height: 1000 });
    await page.goto(url + "/");
    await page.waitForSelector("input[name=username]");
    await page.type("input[name=username]", user);
    await page.type("input[name=password]", password);
    await page.click("button[type=submit]");
    await page.waitForSelector("#catalogue");
    const labs = await page.$$eval("#catalogue tr", (rows) => rows.length);
    await page.click(`[data-start="${lab}"]`);
    await page.waitForSelector("#terminal .xterm", { timeout: LIVE_MS });
    await page.waitForFunction(() => document.querySelectorAll("#topology svg .switch.ready").length > 0, { timeout: LIVE_MS });
    const topology = await page.$$eval("#topology svg .node", (nodes) => nodes.map((n) => n.dataset.node));
    await page.waitForFunction(() => window.classroomTerminal.buffer.active.length > 0 && /\$\s*$/m.test(
      Array.from({ length: window.classroomTerminal.buffer.active.length },
        (_, i) => window.classroomTerminal.buffer.active.getLine(i).translateToString(true)).join("\n")), { timeout: LIVE_MS });
    await page.click("#terminal");
    await page.keyboard.type(`ovs-ofctl dump-flows ${sw}\n`);
    await page.waitForFunction(`(${screen})().includes("cookie=0x0")`, { timeout: LIVE_MS });
    const terminal = await page.evaluate(`(${screen})()`);
    await page.click("#check");
    await page.waitForSelector("#score", { timeout: LIVE_MS });
    const score = await page.$eval("#score", (el) => el.textContent);
    const failed = await page.$$eval("#feedback .fail", (els) => els.length);
    const caption = await page.$eval("#path-caption", (el) => el.textContent.replace(/\s+/g, " ").trim()).catch(() => "");
    const hits = await page.$$eval("#topology .hit", (els) => els.length);
    const blamed = await page.$$eval("#topology .switch.blamed", (els) => els.map((e) => e.dataset.node));
    if (process.env.FIREFOX_SHOT) {
      await page.evaluate(() => document.querySelector("#topology").parentElement.scrollIntoView({ block: "start" }));
      await page.screenshot({ path: process.env.FIREFOX_SHOT });
    }
    await page.click("#stop");
    await page.waitForSelector("#catalogue", { timeout: LIVE_MS });
    console.log(JSON.stringify({ browser: await browser.version(), labs, topology, terminal, score, failed, caption, hits, blamed, errors }));
  } catch (err) {
    if (process.env.FIREFOX_SHOT) await page.screenshot({ path: process.env.FIREFOX_SHOT.replace(/\.png$/, "-failed.png") }).catch(() => {});
    const toast = await page.$eval("#toast", (el) => el.textContent).catch(() => "");
    console.error(`firefox: ${err && err.stack ? err.stack : err}\npage errors: ${JSON.stringify(errors)}\nlast message on the page: ${toast}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
