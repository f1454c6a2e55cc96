// The assessment's lifecycle with two people (four eyes): the city's assessor answers part of
// a city site's assessment and submits it; the city's security officer validates it; the
// dashboard then places the site in its risk band with its re-assessment date. Weak answers
// show guidance passages from the library. Then a site's outline is edited on the map.
import { BASE, check, shot, signIn } from "./lib.mjs";

const desktop = { viewport: { width: 1280, height: 900 }, locale: "en-GB" };

// A site of the city's demo registry that has no assessment yet.
async function freshCitySite(page) {
  const list = await (await page.request.get(BASE + "/api/v1/sites?limit=200")).json();
  for (const site of list.items) {
    const made = await (await page.request.get(BASE + "/api/v1/sites/" + site.id + "/assessments")).json();
    if (!made.items.length) return site;
  }
  throw new Error("every demo site already has an assessment");
}

async function submitThenValidate(page, context) {
  // The assessor: answers the first domain, the worst answer everywhere, and submits.
  await signIn(page, "assessor@vigie.demo");
  const site = await freshCitySite(page);
  await page.goto(BASE + "/sites/" + site.id);
  await page.getByLabel("Threat level").selectOption("3");
  // The demo registry comes from OpenStreetMap, which has no peak occupancy: the form asks.
  await page.getByLabel("People expected at peak").fill("5000");
  await page.getByRole("button", { name: "Start an assessment" }).click();
  await page.waitForURL(/\/assessments\/[^/]+$/);
  const id = page.url().split("/").pop();
  await page.locator("fieldset.question").first().waitFor();
  const questions = page.locator("fieldset.question");
  const n = await questions.count();
  for (let i = 0; i < n; i++) {
    const radios = questions.nth(i).locator('input[type="radio"]:not([value="na"])');
    await radios.nth((await radios.count()) - 1).check();
  }
  await page.waitForFunction((n) => document.querySelectorAll("fieldset.question .state.saved").length === n, n);
  await page.getByRole("link", { name: "See the results" }).click();
  await page.locator("#r-lifecycle button").first().waitFor();
  check(!(await page.getByRole("button", { name: "Validate" }).count()), "an assessor is not offered Validate");
  // Weak answers (grade 4) come with library passages.
  await page.locator("#r-guidance .passage").first().waitFor({ timeout: 15000 });
  await page.locator("#r-guidance .passage mark").first().waitFor();
  // Only the first domain is answered: the figures say they are provisional, and how much is
  // answered.
  check(/Provisional/.test(await page.locator("#r-provisional").textContent()), "an incomplete assessment is marked provisional");
  const answered = await page.locator("#r-answered").textContent();
  check(/^\d+ of \d+ applicable questions answered, \d+ not applicable, \d+ unanswered\.$/.test(answered), "the results say how much is answered: " + answered);
  // Submitting asks to confirm, with the count of unanswered questions.
  let asked = "";
  page.once("dialog", (d) => { asked = d.message(); d.accept(); });
  await page.getByRole("button", { name: "Submit for validation" }).click();
  await page.locator('#r-state[data-status="submitted"]').waitFor();
  check(/^\d+ of the \d+ applicable questions are unanswered/.test(asked), "submitting asked to confirm with the count: " + asked);
  check(await page.getByRole("button", { name: "Send back to the assessor" }).isVisible(), "the owner may take a submitted assessment back");
  await shot(page, "13-results-submitted-by-assessor");
  // A submitted assessment is read-only on the form.
  await page.goto(BASE + "/assessments/" + id);
  await page.locator("fieldset.question").first().waitFor();
  check(await page.locator('fieldset.question input[type="radio"]').first().isDisabled(), "a submitted assessment's answers cannot be changed");
  check(!(await page.locator("#a-submit").count()), "no Submit button once submitted");

  // The officer, in another browser: validates.
  const officer = await context.browser().newContext(desktop);
  const other = await officer.newPage();
  const errors = [];
  other.on("pageerror", (e) => errors.push(e.message));
  try {
    await signIn(other, "officer@vigie.demo");
    await other.goto(BASE + "/assessments/" + id + "/results");
    // Validating an incomplete assessment needs a reason: without one it is refused.
    await other.getByRole("button", { name: "Validate" }).click();
    await other.locator("#r-lifecycle .error").filter({ hasText: "unanswered" }).waitFor();
    check(await other.locator('#r-state[data-status="submitted"]').count() === 1, "no reason, no validation");
    await other.getByLabel(/Reason for validating with \d+ unanswered questions/).fill("Roof and plant rooms not reachable today; second visit booked.");
    await other.getByRole("button", { name: "Validate" }).click();
    await other.locator('#r-state[data-status="validated"]').waitFor();
    const given = await other.locator("#r-reason-given").textContent();
    check(given.includes("second visit booked"), "the reason is recorded and shown: " + given);
    const due = await other.locator("#r-due").textContent();
    check(/Re-assessment due \d{4}-\d{2}-\d{2}/.test(due), "the re-assessment date shows: " + due);
    check(!(await other.getByRole("button", { name: "Validate" }).count()), "Validate is gone once validated");
    await shot(other, "14-results-validated-by-officer");
    await other.goto(BASE + "/dashboard");
    const row = other.locator(`#d-sites tr[data-site="${site.id}"]`);
    await row.waitFor();
    const text = await row.textContent();
    check(text.includes(site.name) && /\d{4}-\d{2}-\d{2}/.test(text), "the dashboard shows the site with its band and re-assessment date: " + text);
    check(/Low|Medium|High|Very high/.test(text), "the dashboard names the site's risk band: " + text);
    check(/provisional/.test(text) && /\d+ \/ \d+/.test(text), "the dashboard shows how much was answered and that the figure is provisional: " + text);
    // Every assessed site (the demo's two and this one) takes its band's colour on the map.
    await other.waitForFunction((n) => Number(document.getElementById("map").dataset.colouredSites || 0) === n, await other.locator("#d-sites tbody tr").count(), { timeout: 15000 });
    await shot(other, "15-dashboard-after-validation");
    // Archived: still readable, out of the dashboard.
    await other.goto(BASE + "/assessments/" + id + "/results");
    other.once("dialog", (d) => d.accept());
    await other.getByRole("button", { name: "Archive" }).click();
    await other.locator('#r-state[data-status="archived"]').waitFor();
    check(!(await other.locator("#r-lifecycle button").count()), "an archived assessment offers no further move");
    await other.goto(BASE + "/dashboard");
    await other.locator("#d-bands-body p, #d-sites").first().waitFor();
    check(!(await other.locator(`#d-sites tr[data-site="${site.id}"]`).count()), "an archived assessment leaves the dashboard");
    check(errors.length === 0, "script errors in the officer's page: " + errors.join("; "));
  } finally {
    await officer.close();
  }
}
submitThenValidate.options = desktop;

async function viewerReadsOnly(page, context) {
  // Its own assessment, started by the assessor through the API in another browser, so the
  // test does not depend on what earlier tests left behind.
  const assessorContext = await context.browser().newContext(desktop);
  let id;
  try {
    const assessor = await assessorContext.newPage();
    await signIn(assessor, "assessor@vigie.demo");
    const site = await freshCitySite(assessor);
    const made = await assessor.request.post(BASE + "/api/v1/sites/" + site.id + "/assessments", { data: { threat_level: 3, occupancy: 2000 } });
    check(made.status() === 201, "the assessor starts an assessment: " + made.status() + " " + (await made.text()));
    id = (await made.json()).id;
  } finally {
    await assessorContext.close();
  }
  await signIn(page, "viewer@vigie.demo");
  await page.goto(BASE + "/assessments/" + id + "/results");
  await page.locator("#r-lifecycle p").first().waitFor();
  check(!(await page.locator("#r-lifecycle button, #action-form").count()), "a viewer is offered no lifecycle button and no action form");
}
viewerReadsOnly.options = desktop;

async function editOutline(page) {
  await signIn(page);
  const ring = [[24.9500, 60.1700], [24.9500, 60.1695], [24.9510, 60.1695], [24.9510, 60.1700], [24.9500, 60.1700]];
  const made = await page.request.post(BASE + "/api/v1/sites", { data: { name: "Outline to edit " + Date.now(), category: "public_square", geometry: { type: "Polygon", coordinates: [ring] } } });
  check(made.ok(), "a site to edit: " + made.status() + " " + (await made.text()));
  const site = await made.json();
  await page.goto(BASE + "/sites/" + site.id + "/edit");
  await page.getByText("4 points").waitFor();
  // Drag the first corner to the north-west, then add a corner in the middle of an edge.
  const corner = page.locator(".vertex-handle").first();
  const box = await corner.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x - 30, box.y - 30, { steps: 8 });
  await page.mouse.up();
  await page.locator(".vertex-add").first().click();
  await page.getByText("5 points").waitFor();
  // Keyboard: the new corner moves with an arrow key and goes with Delete; then it comes back.
  await page.locator(".vertex-handle").nth(1).focus();
  await page.keyboard.press("ArrowUp");
  check(await page.evaluate(() => document.activeElement.classList.contains("vertex-handle")), "the moved corner keeps the focus");
  await page.keyboard.press("Delete");
  await page.getByText("4 points").waitFor();
  // The corner comes back by keyboard alone: focus the handle between corners 1 and 2, Enter.
  await page.locator(".vertex-add").first().focus();
  await page.keyboard.press("Enter");
  await page.getByText("5 points").waitFor();
  check(await page.evaluate(() => document.activeElement === document.querySelectorAll(".vertex-handle")[1]), "the added corner has the focus");
  await shot(page, "16-site-outline-edited");
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(BASE + "/sites/" + site.id);
  const saved = await (await page.request.get(BASE + "/api/v1/sites/" + site.id)).json();
  const outer = saved.geometry.coordinates[0];
  check(outer.length === 6, "the saved outline has 5 corners: " + JSON.stringify(outer));
  check(saved.version > site.version, "the site has a new version");
  const moved = outer.some(([lng, lat]) => lat > 60.1700 + 1e-6 && lng < 24.95 - 1e-6);
  check(moved, "the dragged corner moved north-west: " + JSON.stringify(outer));
}
editOutline.options = desktop;

// An action's owner with an account sees it among "my actions": the demo's assessor owns the
// first action of each validated demo assessment; the results page offers the organisation's
// users as owners.
async function myActions(page) {
  await signIn(page, "assessor@vigie.demo");
  await page.goto(BASE + "/dashboard");
  await page.getByRole("heading", { level: 2, name: "My actions" }).waitFor();
  const rows = page.locator("#d-mine-table tbody tr");
  await rows.first().waitFor();
  check(await rows.count() === 2, "the assessor owns the first action of each validated demo assessment");
  await rows.first().getByRole("link").first().click();
  await page.waitForURL(/\/assessments\/[^/]+\/results$/);
  await page.locator("#plan-table tbody tr").first().waitFor();
  check((await page.locator("#plan-table").textContent()).includes("assessor@vigie.demo"), "the plan names the owner's account");
  const owners = await page.locator("#ac-owner-user option").allTextContents();
  check(owners.includes("officer@vigie.demo") && !owners.includes("operator@vigie.demo"), "owners are the organisation's users: " + owners.join(", "));
  await shot(page, "25-results-action-owner");
}
myActions.options = desktop;

export const lifecycle = [
  ["an action's owner sees it among my actions", myActions],
  ["assessor submits, officer validates, dashboard shows the band and due date", submitThenValidate],
  ["a viewer reads an assessment without edit buttons", viewerReadsOnly],
  ["edit a site's outline on the map", editOutline],
];
