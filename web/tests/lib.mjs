// A small test runner over playwright-core: named steps, run in order, each failure reported
// with its message and a screenshot; the process exits non-zero when any failed.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export const BASE = process.env.VIGIE_URL || "http://127.0.0.1:8080";
export const SHOTS = process.env.VIGIE_SCREENSHOTS || path.resolve("screenshots");
export const EMAIL = "officer@vigie.demo";
export const PASSWORD = "vigie-demo-2026";
fs.mkdirSync(SHOTS, { recursive: true });

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Every page a test photographs is also checked against WCAG 2.1 A and AA with axe-core: public
// bodies must meet it. The script is evaluated through the browser's debugging protocol, which the
// page's Content-Security-Policy (no inline script) does not apply to.
export async function checkAccessibility(page, name) {
  if (!(await page.evaluate(() => typeof window.axe !== "undefined"))) {
    await page.evaluate(AXE_SOURCE);
  }
  const results = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const found = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
  );
  check(found.length === 0, `${name}: ${found.length} accessibility violation(s): ${found.join("; ")}`);
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + ".png"), fullPage: true });
  await checkAccessibility(page, name);
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

export async function signIn(page, email = EMAIL) {
  await page.goto(BASE + "/login?lang=en");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(BASE + "/");
}

export async function run(tests) {
  const browser = await launch();
  let failed = 0;
  for (const [name, body] of tests) {
    const context = await browser.newContext(body.options || {});
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const started = Date.now();
    try {
      await body(page, context);
      check(errors.length === 0, "script errors in the page: " + errors.join("; "));
      console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e.message}` + (errors.length ? `\n     script errors in the page: ${errors.join("; ")}` : ""));
      await shot(page, "FAILED-" + name.replace(/\W+/g, "-")).catch(() => {});
    }
    await context.close();
  }
  await browser.close();
  console.log(`${tests.length - failed} passed, ${failed} failed; screenshots in ${SHOTS}`);
  process.exit(failed ? 1 : 0);
}
