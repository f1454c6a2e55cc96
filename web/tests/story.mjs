// The story on a 390 px phone: sign in, create a site by drawing it, run an assessment
// with an offline stretch that syncs afterwards, resolve a conflict, see the results, add an
// action, look at the dashboard. Screenshots of each page.
import { BASE, check, shot, signIn } from "./lib.mjs";

const phone = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: "en-GB",
  geolocation: { latitude: 60.1683, longitude: 24.9416, accuracy: 12 },
  permissions: ["geolocation"],
};

// A 1×1 PNG, as the phone camera's picture.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==", "base64");

async function createSite(page) {
  await page.goto(BASE + "/sites/new");
  await page.getByLabel("Name").fill("Test square " + Date.now());
  await page.getByLabel("Category").selectOption("public_square");
  await page.getByLabel("Peak occupancy").fill("800");
  const map = page.locator("#map");
  await map.scrollIntoViewIfNeeded();
  await page.waitForFunction(() => Number(document.getElementById("map").dataset.streetSegments || 0) > 0, null, { timeout: 15000 });
  const box = await map.boundingBox();
  for (const [x, y] of [[0.35, 0.35], [0.65, 0.35], [0.65, 0.65], [0.35, 0.65]]) {
    await page.mouse.click(box.x + box.width * x, box.y + box.height * y);
  }
  await page.getByText("4 points").waitFor();
  await shot(page, "02-site-form-phone");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/\/sites\/(?!new$)[^/]+$/);
  await page.getByRole("heading", { level: 2, name: "Assessments" }).waitFor();
  await shot(page, "03-site-phone");
}

// A phone page never scrolls sideways.
async function fitsThePhone(page, what) {
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(widths[0] <= widths[1], `${what} fits the phone's width (${widths[0]} px of ${widths[1]})`);
}

async function answerVisible(page, pick) {
  const questions = page.locator("fieldset.question");
  const n = await questions.count();
  for (let i = 0; i < n; i++) {
    const radios = questions.nth(i).locator('input[type="radio"]');
    const count = await radios.count();
    await radios.nth(pick(count)).check();
  }
  return n;
}

async function assessmentApiPresent(page) {
  const r = await page.request.get(BASE + "/api/v1/methodology?lang=en");
  return r.status() !== 404;
}

async function phoneStory(page, context) {
  await signIn(page);
  await shot(page, "01-registry-phone");
  await createSite(page);
  if (!(await assessmentApiPresent(page))) {
    // Loud, not silent: the run says which part did not run and why.
    console.log("SKIP the assessment part of the phone story: this server has no assessments API (GET /api/v1/methodology answers 404)");
    return;
  }
  await page.getByLabel("Threat level").selectOption("3");
  await page.getByRole("button", { name: "Start an assessment" }).click();
  await page.waitForURL(/\/assessments\/[^/]+$/);
  const assessmentUrl = page.url();
  const id = assessmentUrl.split("/").pop();
  await page.locator("fieldset.question").first().waitFor();
  // First domain online: the best answer everywhere.
  const first = await answerVisible(page, () => 0);
  await page.waitForFunction((n) => document.querySelectorAll("fieldset.question .state.saved").length === n, first);
  await shot(page, "04-assessment-online");

  // The network drops: answers are kept on the phone.
  check(await page.evaluate(() => Boolean(navigator.serviceWorker.controller)), "the service worker controls the assessment page");
  await context.setOffline(true);
  await page.getByRole("button", { name: "Next domain" }).click();
  const second = await answerVisible(page, (count) => count - 1);
  await page.locator("fieldset.question").first().locator('input[type="file"]').setInputFiles({ name: "photo.png", mimeType: "image/png", buffer: PNG });
  await page.locator("#net-status.offline").waitFor();
  const queued = await page.locator("fieldset.question .state.queued").count();
  check(queued === second, `every answer given offline is queued (${queued} of ${second})`);
  // A reload while offline: the service worker serves the page, the queue is still there.
  await page.reload();
  await page.locator("fieldset.question").first().waitFor();
  await page.getByRole("button", { name: "Next domain" }).click();
  check((await page.locator("fieldset.question .state.queued").count()) === second, "the queue survives a reload offline");
  await shot(page, "05-assessment-offline");

  // Back online: the queue is sent.
  await context.setOffline(false);
  await page.locator("#net-status.synced").waitFor({ timeout: 20000 });
  await page.waitForFunction(() => !document.querySelector("fieldset.question .state.queued"));
  const stored = await (await page.request.get(BASE + "/api/v1/assessments/" + id)).json();
  const firstQuestion = await page.locator("fieldset.question").first().getAttribute("data-question");
  check(stored.answers[firstQuestion], "the offline answers reached the server");
  const photos = (stored.photos || []).filter((p) => p.question_id === firstQuestion);
  check(photos.length === 1, "the photo taken offline reached the server");
  await shot(page, "06-assessment-synced");

  // Someone else changes an answer meanwhile: the assessor is asked, nothing is overwritten.
  const theirs = stored.answers[firstQuestion];
  const other = await page.request.put(BASE + "/api/v1/assessments/" + id + "/answers/" + firstQuestion, {
    data: { answer: "na" === theirs.answer ? "g1" : theirs.answer, note: "changed by a colleague", base_version: theirs.version },
  });
  check(other.ok(), "a colleague's change is accepted");
  await page.locator("fieldset.question").first().locator('input[type="radio"]').first().check();
  const conflict = page.locator("[data-conflict]");
  await conflict.waitFor({ timeout: 10000 });
  await shot(page, "07-assessment-conflict");
  await conflict.getByRole("button", { name: "Keep mine" }).click();
  await page.waitForFunction(() => !document.querySelector("[data-conflict]") && !document.querySelector("fieldset.question .state.queued"));

  // Results and an action.
  await page.getByRole("link", { name: "See the results" }).click();
  await page.locator("#r-bars svg").waitFor();
  await page.locator("#r-matrix svg").waitFor();
  const toggles = page.locator("#r-whatif input[type=checkbox]");
  if ((await toggles.count()) > 0) {
    await toggles.first().check();
    await page.locator("#whatif-out table").waitFor();
  }
  await page.getByLabel("Action", { exact: true }).fill("Install bollards at the north entrance");
  await page.getByLabel("Owner", { exact: true }).fill("Facilities team");
  await page.getByLabel("Due date").fill("2027-03-31");
  // Sent from the keyboard: in Chromium's phone emulation a tap at the foot of this long page
  // lands on the field above the button (the date field's label intercepts it).
  await page.getByLabel("Owner", { exact: true }).press("Enter");
  await page.locator("#plan-table").getByText("Install bollards at the north entrance").waitFor();
  await page.locator("#r-guidance details, #r-guidance p").first().waitFor();
  await fitsThePhone(page, "the results page");
  await shot(page, "08-results-phone");

  await page.goto(BASE + "/dashboard");
  await page.locator("#d-actions-body table, #d-actions-body p").first().waitFor();
  await fitsThePhone(page, "the dashboard");
  await shot(page, "09-dashboard-phone");
}
phoneStory.options = phone;

export const story = [["phone story: site, assessment with an offline stretch, results, action", phoneStory]];
