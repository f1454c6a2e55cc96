// Cooperation: the city's security officer sends a TLP:AMBER bulletin to the city-centre
// operators' forum; the mall's security manager, on a phone, sees it in the inbox count,
// opens it under its marking banner and acknowledges it; the officer sees the acknowledgement.
import { BASE, check, shot, signIn } from "./lib.mjs";

const desktop = { viewport: { width: 1280, height: 900 }, locale: "en-GB" };
const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: "en-GB" };

async function bulletinToForumAcknowledgedOnAPhone(page, context) {
  const title = "Van filming service entrances " + Date.now();
  await signIn(page, "officer@vigie.demo");
  await page.getByRole("link", { name: "Bulletins" }).click();
  await page.getByRole("heading", { level: 1, name: "Threat bulletins" }).waitFor();
  // The demo's bulletins to the forum, one of them an exercise.
  check((await page.locator("#bulletin-list").textContent()).includes("Exercise"), "the demo's exercise is listed as one");
  await page.getByRole("link", { name: "Write a bulletin" }).click();
  await page.getByLabel("Title in English").fill(title);
  await page.getByLabel("Text in English").fill("A grey van filmed the service entrances.\nPlate partly seen: ABC-1.");
  await page.getByLabel("Marking (TLP 2.0)").selectOption("TLP:AMBER");
  await page.getByLabel("Helsinki city-centre operators forum").check();
  // Where: an area drawn on the map and the store picked.
  await page.locator("#map").scrollIntoViewIfNeeded();
  const box = await page.locator("#map").boundingBox();
  for (const [x, y] of [[0.3, 0.3], [0.7, 0.3], [0.7, 0.7], [0.3, 0.7]]) await page.mouse.click(box.x + x * box.width, box.y + y * box.height);
  await page.getByLabel("Sites concerned").selectOption({ label: "Stockmann" });
  await shot(page, "31-bulletin-compose");
  await page.getByRole("button", { name: "Send the bulletin" }).click();
  await page.waitForURL(/\/bulletins\/[0-9a-f]{32}$/);
  const url = page.url();
  check((await page.locator("#tlp-banner").textContent()).startsWith("TLP:AMBER"), "the marking's banner");
  check((await page.locator("dl.facts").textContent()).includes("Stockmann"), "the site it concerns is named");
  check(await page.locator("#map").count() === 1, "its area is on a map");
  const receipt = page.locator("#receipts-table tbody tr").filter({ hasText: "Helsinki Markets and Malls (demo)" });
  check((await receipt.locator("td").nth(2).textContent()) === "–", "not yet acknowledged");

  // The mall's manager on a phone: the header counts it, the bulletin opens, one tap acknowledges.
  const theirs = await context.browser().newContext(phone);
  const manager = await theirs.newPage();
  try {
    await signIn(manager, "operator@vigie.demo");
    const badge = await manager.locator("#nav-inbox .badge").textContent();
    check(/\d+$/.test(badge.trim()) && Number(badge.trim().match(/\d+$/)[0]) >= 1, "unread bulletins are counted: " + badge);
    await manager.goto(BASE + "/bulletins");
    const row = manager.locator("#bulletin-list li").filter({ hasText: title });
    check((await row.textContent()).includes("to acknowledge"), "it awaits acknowledgement");
    await row.getByRole("link", { name: title }).click();
    await manager.locator("#tlp-banner").waitFor();
    check((await manager.locator(".bulletin-text").first().textContent()).includes("Plate partly seen"), "the text, line breaks kept");
    check((await manager.locator("dl.facts").textContent()).includes("City of Helsinki (demo)"), "the sender is named");
    const sideways = await manager.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(sideways <= 0, "the phone page does not scroll sideways: " + sideways + " px");
    await shot(manager, "32-bulletin-phone");
    await manager.getByRole("button", { name: "Acknowledge" }).click();
    await manager.waitForURL(url);
    check(!(await manager.getByRole("button", { name: "Acknowledge" }).count()), "acknowledged once");
  } finally {
    await theirs.close();
  }
  await page.reload();
  const acked = await page.locator("#receipts-table tbody tr").filter({ hasText: "Helsinki Markets and Malls (demo)" }).locator("td").nth(2).textContent();
  check(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/.test(acked), "the officer sees when it was acknowledged: " + acked);
  await shot(page, "33-bulletin-receipts");
}
bulletinToForumAcknowledgedOnAPhone.options = desktop;

// A TLP:RED bulletin names people, picked in the form; its source later lowers the marking
// from the bulletin's page.
async function redBulletinToANamedPersonThenLowered(page) {
  const title = "Named source " + Date.now();
  await signIn(page, "officer@vigie.demo");
  await page.goto(BASE + "/bulletins/new");
  await page.getByLabel("Title in English").fill(title);
  await page.getByLabel("Text in English").fill("Only the mall's manager is told who the source is.");
  await page.getByLabel("Marking (TLP 2.0)").selectOption("TLP:RED");
  await page.getByLabel("operator@vigie.demo (Helsinki Markets and Malls (demo))").check();
  await page.getByRole("button", { name: "Send the bulletin" }).click();
  await page.waitForURL(/\/bulletins\/[0-9a-f]{32}$/);
  const url = page.url();
  check((await page.locator("#tlp-banner").textContent()).startsWith("TLP:RED"), "sent under RED");
  await shot(page, "42-bulletin-red");
  await page.locator("#m-marking").selectOption("TLP:AMBER");
  await page.getByRole("button", { name: "Change the marking" }).click();
  await page.waitForURL(url);
  check((await page.locator("#tlp-banner").textContent()).startsWith("TLP:AMBER"), "lowered to AMBER by its source");
}
redBulletinToANamedPersonThenLowered.options = desktop;

// Someone outside the forum never sees an AMBER bulletin: not listed, and its address is a 404.
async function outsidersSeeNothing(page) {
  const officer = await page.request.post(BASE + "/api/v1/auth/login", { data: { email: "officer@vigie.demo", password: "vigie-demo-2026" } });
  check(officer.ok(), "the officer signs in through the API");
  const list = await (await page.request.get(BASE + "/api/v1/bulletins")).json();
  const amber = list.items.find((b) => b.marking === "TLP:AMBER");
  check(amber, "the demo has an AMBER bulletin");
  await page.request.post(BASE + "/api/v1/auth/logout");
  await signIn(page, "viewer@vigie.demo"); // the city's viewer: the author's organisation reads it
  const ok = await page.goto(BASE + "/bulletins/" + amber.id);
  check(ok.status() === 200, "the author's organisation reads it");
  const missing = await page.goto(BASE + "/bulletins/" + "0".repeat(32));
  check(missing.status() === 404, "an unknown bulletin is a 404 page: " + missing.status());
  await page.goto(BASE + "/bulletins?lang=fr");
  await page.getByRole("heading", { level: 1, name: "Bulletins de menace" }).waitFor();
  await shot(page, "34-bulletins-fr");
}
outsidersSeeNothing.options = desktop;

// Communities: the officer creates one and invites the mall's organisation; its manager
// accepts, sees the members, and leaves.
async function communityInvitationAcceptedAndLeft(page, context) {
  const name = "Harbour forum " + Date.now();
  await signIn(page, "officer@vigie.demo");
  await page.getByRole("link", { name: "Communities" }).click();
  await page.getByRole("heading", { level: 1, name: "Communities" }).waitFor();
  const forum = page.locator('article[data-community="Helsinki city-centre operators forum"]');
  check((await forum.textContent()).includes("Helsinki Markets and Malls (demo) · member"), "the demo forum lists its members");
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create a community" }).click();
  const card = page.locator(`article[data-community="${name}"]`);
  await card.waitFor();
  await card.getByLabel("Invite an organisation").selectOption({ label: "Helsinki Markets and Malls (demo)" });
  await card.getByRole("button", { name: "Invite" }).click();
  await page.locator(`article[data-community="${name}"]`).getByText("Helsinki Markets and Malls (demo) · invited").waitFor();
  await shot(page, "35-communities-officer");

  const theirs = await context.browser().newContext(desktop);
  const manager = await theirs.newPage();
  try {
    await signIn(manager, "operator@vigie.demo");
    await manager.goto(BASE + "/communities");
    const invitation = manager.locator("#invitations li").filter({ hasText: name });
    await shot(manager, "36-communities-invitation");
    await invitation.getByRole("button", { name: "Accept" }).click();
    const joined = manager.locator(`article[data-community="${name}"]`);
    await joined.waitFor();
    check((await joined.textContent()).includes("City of Helsinki (demo) · member"), "members see the member list");
    await joined.getByRole("button", { name: "Leave the community" }).click();
    await manager.locator("h1").waitFor();
    check(!(await manager.locator(`article[data-community="${name}"]`).count()), "left: the community is gone from the page");
  } finally {
    await theirs.close();
  }
}
communityInvitationAcceptedAndLeft.options = desktop;

// Threat levels: the officer sees the demo's level around the station with its checklists,
// raises the level over an area drawn on the map, and the sites there get the level's
// checklist; an assessment's results say which level it is scored at and why.
async function levelChangeCreatesTheChecklist(page) {
  await signIn(page, "officer@vigie.demo");
  await page.getByRole("link", { name: "Threat levels" }).click();
  await page.getByRole("heading", { level: 1, name: "Threat levels" }).waitFor();
  check((await page.locator("#levels-table tbody tr").first().textContent()).includes("4 · severe"), "the demo's level 4 is listed");
  const stockmann = page.locator("#checklists-table tbody tr").filter({ hasText: "Stockmann" });
  check(/0 \/ \d+/.test(await stockmann.textContent()), "Stockmann has the level's checklist, none done yet");
  check(!(await page.locator("#checklists-table tbody tr").filter({ hasText: "Senaatintori" }).count()), "Senaatintori is outside the area");
  await shot(page, "37-threat-levels");

  await page.getByLabel("Threat level").selectOption("5");
  await page.getByLabel("Reason").fill("Attack in a neighbouring capital");
  await page.getByLabel("The area drawn on the map").check();
  await page.locator("#map").scrollIntoViewIfNeeded();
  const map = await page.locator("#map").boundingBox();
  for (const [x, y] of [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]) await page.mouse.click(map.x + x * map.width, map.y + y * map.height);
  check((await page.locator("#vertex-count").textContent()).startsWith("4 "), "four corners drawn");
  await page.getByRole("button", { name: "Set the threat level" }).click();
  await page.locator('#levels-table tbody tr[data-level="5"]').waitFor();
  const senate = page.locator("#checklists-table tbody tr").filter({ hasText: "Senaatintori" });
  await senate.waitFor();
  check(/0 \/ \d+/.test(await senate.textContent()), "Senaatintori now has a checklist");

  // Its validated assessment is scored at the new level, and the checklist is in its plan.
  const siteId = await senate.getAttribute("data-site");
  const assessments = await (await page.request.get(BASE + "/api/v1/sites/" + siteId + "/assessments")).json();
  await page.goto(BASE + "/assessments/" + assessments.items[0].id + "/results");
  await page.locator("#r-threat-level").waitFor();
  check((await page.locator("#r-threat-level").textContent()).includes("threat level 5"), "scored at the authority's level");
  await page.locator("#plan-table").waitFor();
  check((await page.locator("#plan-table").textContent()).includes("threat level checklist"), "the checklist's actions say where they come from");
  await shot(page, "38-results-threat-level");
}
levelChangeCreatesTheChecklist.options = desktop;

// A field report filed on a phone with no network: kept on the phone, sent when the network
// returns; the city's officer then sees it with the demo's sightings cluster and triages it.
async function reportFiledOfflineSyncs(page, context) {
  const text = "Drone hovering over the loading bay " + Date.now();
  await signIn(page, "operator@vigie.demo");
  await page.goto(BASE + "/field-reports/new");
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload(); // now through the service worker, which keeps the form
  await page.getByRole("heading", { level: 1, name: "Report something" }).waitFor();
  await context.setOffline(true);
  await page.reload();
  await page.getByRole("heading", { level: 1, name: "Report something" }).waitFor();
  await page.getByLabel("What happened").selectOption("hostile_reconnaissance");
  await page.getByLabel("What you saw").fill(text);
  await page.getByLabel("Latitude").fill("60.16870");
  await page.getByLabel("Longitude").fill("24.94150");
  await page.getByLabel("Photos (optional)").setInputFiles(new URL("../../crates/vigie-server/tests/fixtures/photo-with-gps.jpg", import.meta.url).pathname);
  check(await page.getByLabel("City of Helsinki (demo)", { exact: true }).isChecked(), "the overseeing city is the recipient");
  await page.getByRole("button", { name: "Send the report" }).click();
  await page.getByText("No network: the report is kept on this device").waitFor();
  check((await page.locator("#queued-list").textContent()).includes("Drone hovering"), "it is listed as kept on the phone");
  const sideways = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(sideways <= 0, "the phone page does not scroll sideways: " + sideways + " px");
  await shot(page, "39-report-offline");
  await context.setOffline(false);
  await page.getByText("Reports kept on this device have been sent: 1").waitFor();
  const mine = await (await page.request.get(BASE + "/api/v1/field-reports")).json();
  check(mine.items.some((r) => r.text === text && r.marking === "TLP:AMBER"), "the report reached the server");

  const theirs = await context.browser().newContext(desktop);
  const officer = await theirs.newPage();
  try {
    await signIn(officer, "officer@vigie.demo");
    await officer.getByRole("link", { name: "Reports" }).click();
    await officer.getByRole("heading", { level: 1, name: "Field reports" }).waitFor();
    check((await officer.locator("#clusters-note").textContent()).includes("1"), "the demo's sightings cluster is shown");
    const card = officer.locator("#report-list li").filter({ hasText: text });
    const photo = card.locator("img");
    check(await photo.count() === 1, "the photo taken offline came with the report");
    check(await photo.evaluate((img) => img.complete && img.naturalWidth > 0), "and shows");
    await card.getByLabel("Status").selectOption("under_review");
    await card.getByRole("button", { name: /Change/ }).click();
    await officer.locator("#report-list li").filter({ hasText: text }).getByText("Status: under review").waitFor();
    // Linked into a new case with the van reports.
    const again = officer.locator("#report-list li").filter({ hasText: text });
    await again.getByLabel("New case's title").fill("Drone and van around Stockmann");
    await again.getByRole("button", { name: /^Link/ }).click();
    await officer.locator("#case-list").getByText("Drone and van around Stockmann").waitFor();
    check((await officer.locator("#report-list li").filter({ hasText: text }).textContent()).includes("Status: linked"), "a report in a case is linked");
    await shot(officer, "40-reports-triage");
  } finally {
    await theirs.close();
  }
  // Back on the phone: the inbox tells the reporter the city is looking into it.
  await page.goto(BASE + "/inbox");
  const update = page.locator("#inbox-reports li").filter({ hasText: "Status: linked" }).first();
  check((await update.textContent()).includes("new"), "the status change is new to the reporter");
  await shot(page, "41-inbox-phone");
  // Its source narrows who reads it from its card: AMBER+STRICT, the city still its recipient.
  await page.goto(BASE + "/field-reports");
  const own = page.locator("#report-list li").filter({ hasText: text });
  await own.getByLabel("Marking (TLP 2.0)").selectOption("TLP:AMBER+STRICT");
  await own.getByRole("button", { name: /Change the marking/ }).click();
  await page.locator("#report-list li").filter({ hasText: text }).locator(".tlp").getByText("TLP:AMBER+STRICT").waitFor();
  await shot(page, "43-report-marking-phone");
}
reportFiledOfflineSyncs.options = phone;

export const cooperation = [
  ["the officer sends an AMBER bulletin to the forum; the operator acknowledges it on a phone", bulletinToForumAcknowledgedOnAPhone],
  ["bulletins keep to their marking, in French too", outsidersSeeNothing],
  ["a RED bulletin names a person, and its source lowers the marking", redBulletinToANamedPersonThenLowered],
  ["an officer's community: invited, accepted, left", communityInvitationAcceptedAndLeft],
  ["a threat level change creates the checklist", levelChangeCreatesTheChecklist],
  ["an operator files a report offline on a phone and it syncs; the officer triages it", reportFiledOfflineSyncs],
];
