// Desktop: sign in, the registry with its map, the language switch, a site's page.
import { BASE, check, shot, signIn } from "./lib.mjs";

const desktop = { viewport: { width: 1280, height: 900 }, locale: "en-GB" };

async function signInSeesRegistry(page) {
  await signIn(page);
  await page.getByRole("heading", { level: 1, name: "Registry of public spaces" }).waitFor();
  const rows = await page.locator("main table tbody tr").count();
  check(rows > 0, "the demo registry lists sites");
  check(await page.getByText("City of Helsinki (demo)").isVisible(), "the header shows the organisation");
  check(await page.getByText("Authority").first().isVisible(), "the header shows the role");
  await page.waitForFunction(() => Number(document.getElementById("map").dataset.streetSegments || 0) > 0, null, { timeout: 15000 });
  await shot(page, "01-registry");
}
signInSeesRegistry.options = desktop;

async function languageSwitches(page) {
  await signIn(page);
  // Keyboard: the first Tab reaches the skip link, shown with a focus outline.
  await page.keyboard.press("Tab");
  const focus = await page.evaluate(() => ({ text: document.activeElement.textContent, outline: getComputedStyle(document.activeElement).outlineStyle }));
  check(focus.text === "Skip to content" && focus.outline !== "none", "the first Tab shows the skip link with a visible focus: " + JSON.stringify(focus));
  await page.getByRole("link", { name: "Français" }).click();
  await page.getByRole("heading", { level: 1, name: "Registre des espaces publics" }).waitFor();
  await page.goto(BASE + "/dashboard");
  check((await page.locator("html").getAttribute("lang")) === "fr", "the language is remembered");
  await page.getByRole("link", { name: "English" }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
}
languageSwitches.options = desktop;

async function filtersNarrowTheList(page) {
  await signIn(page);
  const all = await page.locator("main table tbody tr").count();
  await page.getByLabel("Category").selectOption({ index: 1 });
  await page.getByRole("button", { name: "Filter", exact: true }).click();
  await page.waitForURL(/category=/);
  const some = await page.locator("main table tbody tr").count();
  check(some < all, `a category shows fewer sites (${some} of ${all})`);
}
filtersNarrowTheList.options = desktop;

async function vehicleStudy(page) {
  await signIn(page);
  // Squares have no address: the registry places them by their nearest streets.
  const row = page.locator("main table tbody tr").filter({ has: page.getByRole("link", { name: "Senaatintori", exact: true }) });
  check((await row.textContent()).includes("near Hallituskatu and Aleksanterinkatu"), "the square is placed: " + (await row.textContent()));
  await page.getByRole("link", { name: "Senaatintori" }).click();
  await page.getByRole("heading", { level: 1, name: "Senaatintori" }).waitFor();
  check((await page.locator("#site-near").textContent()) === "near Hallituskatu and Aleksanterinkatu", "the site page names its streets");
  await Promise.all([page.waitForEvent("load", { timeout: 60000 }), page.getByRole("button", { name: "Run the vehicle study" }).click()]);
  await page.getByRole("table", { name: /Highest impact speed/ }).waitFor({ timeout: 60000 });
  const rows = await page.getByRole("table", { name: /Highest impact speed/ }).locator("tbody tr").count();
  check(rows > 0, "the study lists access points and vehicles");
  // Each vehicle is named in words, and each speed says why it is what it is.
  const car = page.locator('#hvm-rows tr[data-class="M1"]').first();
  check((await car.textContent()).includes("Car (M1)"), "the car class has its plain name");
  check((await car.locator("svg.silhouette use").getAttribute("href")).endsWith("#car"), "and its silhouette");
  const cells = car.locator("td");
  const why = await cells.nth(6).textContent();
  check(/straight run of \d+ m from rest/.test(why), "the speed is explained: " + why);
  // The barrier it takes, and what of the demo's (fictional) catalogue stops it.
  const rating = await cells.nth(7).textContent();
  check(/^V\/1500\[M1\]\/\d+\/\d+$/.test(rating) || rating.startsWith("faster than"), "the rating needed: " + rating);
  const products = await cells.nth(8).textContent();
  check(products.includes("(fictional)") || products === "none covers it", "the catalogue's answer: " + products);
  check((await page.locator("#hvm-catalogue").textContent()).includes("demo: fictional products"), "the catalogue is named");
  await page.getByLabel("Vehicle", { exact: true }).selectOption("N3C");
  await page.waitForFunction(() => Number(document.getElementById("hvm-map").dataset.streetSegments || 0) > 0, null, { timeout: 15000 });
  // Street names are drawn on the map from the OSM data.
  await page.waitForFunction(() => Number(document.getElementById("hvm-map").dataset.streetNames || 0) > 0, null, { timeout: 15000 });
  const names = await page.locator("#hvm-map .street-name").allTextContents();
  check(names.includes("Aleksanterinkatu"), "the streets around the square are named: " + names.join(", "));
  await shot(page, "10-site-vehicle-study");
}
vehicleStudy.options = desktop;

async function librarySearch(page) {
  await signIn(page);
  await page.getByRole("link", { name: "Library" }).click();
  await page.getByLabel("Search the reference documents").fill("vehicle barrier");
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator("#l-results li mark").first().waitFor({ timeout: 15000 });
  await shot(page, "11-library-search");
  // A hit opens in its document, at its passage.
  await page.locator("#l-results li").first().getByRole("link", { name: "Open in its document" }).click();
  await page.waitForURL(/\/library\/documents\/[^#]+#p-/);
  const target = decodeURIComponent(new URL(page.url()).hash.slice(1));
  check(await page.locator(`li.passage[id="${target}"]`).isVisible(), "the passage is on the document's page");
  await shot(page, "24-library-document");

  // The list of documents, filtered; the demo's documents are French and TLP:CLEAR.
  await page.goto(BASE + "/library");
  const all = await page.locator("#docs-table tbody tr").count();
  check(all >= 4, "the demo's documents are listed: " + all);
  await page.locator("#docs-filter").getByLabel("Language").selectOption("en");
  await page.locator("#docs-filter").getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/language=en/);
  check(await page.locator("#docs-table tbody tr").count() === 0, "no English document in the demo");
  await page.goto(BASE + "/library?marking=TLP:CLEAR&language=fr");
  check(await page.locator("#docs-table tbody tr").count() === all, "every demo document is French and TLP:CLEAR");

  // Upload from the page: a Markdown note is read and indexed; a file that is not a PDF is
  // refused with the reason, as on the command line.
  const title = "Consignes de la fête de quartier " + Date.now();
  await page.getByLabel("File").setInputFiles({ name: "consignes.md", mimeType: "text/markdown", buffer: Buffer.from("# " + title + "\n\nLes barrières anti-véhicules ferment la rue Aleksanterinkatu pendant la fête.\n") });
  await page.locator("#upload-form").getByLabel("Title").fill(title);
  await page.getByRole("button", { name: "Add to the library" }).click();
  await page.locator("#up-status").getByText(/^Added:/).waitFor({ timeout: 15000 });
  await page.getByLabel("File").setInputFiles({ name: "scan.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4 not really") });
  await page.getByRole("button", { name: "Add to the library" }).click();
  await page.locator("#up-status").getByText(/could not be read/).waitFor({ timeout: 15000 });
  await page.goto(BASE + "/library");
  check((await page.locator("#docs-table").textContent()).includes(title), "the uploaded document is listed");
}
librarySearch.options = desktop;

async function importAndEditConflict(page) {
  await signIn(page);
  const name = "Imported square " + Date.now();
  // Drawn clockwise on purpose: the form turns the ring the way the server expects.
  const ring = [[24.9500, 60.1700], [24.9510, 60.1700], [24.9510, 60.1695], [24.9500, 60.1695], [24.9500, 60.1700]];
  const file = { type: "FeatureCollection", features: [{ type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [ring] } }] };
  const importSquare = async () => {
    await page.goto(BASE + "/sites/new");
    await page.getByLabel("Name").fill(name);
    await page.getByLabel("Import a GeoJSON file").setInputFiles({ name: "square.geojson", mimeType: "application/geo+json", buffer: Buffer.from(JSON.stringify(file)) });
    await page.getByText("4 points").waitFor(); // a Polygon stays editable, corner by corner
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(/\/sites\/(?!new)[^/?]+\?created=1$/);
    return new URL(page.url()).pathname.split("/").pop();
  };
  const id = await importSquare();
  check(!(await page.locator("#look-alikes").count()), "a first site has no look-alike");
  // The same square again: the new site's page says it looks like the first.
  await importSquare();
  const warning = await page.locator("#look-alikes").textContent();
  check(warning.includes("looks like one your organisation already has") && warning.includes(name), "a look-alike is flagged: " + warning);
  check((await page.locator("#look-alikes a").getAttribute("href")) === "/sites/" + id, "and linked");
  await shot(page, "30-site-look-alike");
  await page.goto(BASE + "/sites/" + id);
  await page.getByRole("link", { name: "Edit site" }).click();
  await page.getByLabel("Name").fill("Imported square, renamed");
  // Someone else saves the site meanwhile.
  const site = await (await page.request.get(BASE + "/api/v1/sites/" + id)).json();
  const other = await page.request.put(BASE + "/api/v1/sites/" + id, { data: { name: "Changed by a colleague", category: site.category, geometry: site.geometry, version: site.version } });
  check(other.ok(), "the colleague's edit is accepted: " + other.status() + " " + (await other.text()));
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Someone changed this site while you were editing it").waitFor();
  await shot(page, "12-site-edit-conflict");
}
importAndEditConflict.options = desktop;

async function signOut(page) {
  await signIn(page);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(BASE + "/login");
  await page.goto(BASE + "/");
  await page.waitForURL(BASE + "/login");
}
signOut.options = desktop;

async function missingPage(page) {
  await signIn(page);
  const response = await page.goto(BASE + "/sites/no-such-site");
  check(response.status() === 404, "a missing site answers 404, not " + response.status());
  await page.getByRole("heading", { level: 1, name: "Page not found" }).waitFor();
  await shot(page, "17-page-not-found");
  await page.getByRole("link", { name: "Back to the dashboard" }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  // The same in French, and for a URL no route knows.
  const french = await page.goto(BASE + "/no/such/page?lang=fr");
  check(french.status() === 404 && (await page.locator("html").getAttribute("lang")) === "fr", "an unknown URL answers a French 404 page");
  await page.getByRole("heading", { level: 1, name: "Page introuvable" }).waitFor();
  await shot(page, "18-page-not-found-fr");
  await page.getByRole("link", { name: "Retour au tableau de bord" }).click();
  await page.getByRole("heading", { level: 1, name: "Tableau de bord" }).waitFor();
  const icon = await page.request.get(BASE + "/favicon.ico");
  check(icon.ok() && icon.headers()["content-type"] === "image/svg+xml", "a favicon is served");
  check(Boolean(await page.locator('link[rel="icon"]').getAttribute("href")), "pages link the favicon");
}
missingPage.options = desktop;

// A phone that loses the network: the registry, which is not kept offline, shows the offline
// page in the user's language instead of the browser's error.
async function offlineFallback(page, context) {
  await signIn(page);
  await page.goto(BASE + "/?lang=fr");
  await page.getByRole("heading", { level: 1, name: "Registre des espaces publics" }).waitFor();
  await page.waitForFunction(() => Boolean(navigator.serviceWorker.controller), null, { timeout: 15000 });
  await page.waitForFunction(async () => {
    const held = await (await caches.open("offline-page")).match("/offline");
    return Boolean(held) && (await held.text()).includes('<html lang="fr"');
  }, null, { timeout: 15000 });
  await context.setOffline(true);
  try {
    await page.goto(BASE + "/?category=public_square");
    await page.getByRole("heading", { level: 1, name: "Vous êtes hors ligne" }).waitFor();
    check((await page.locator("#offline-text").textContent()).includes("réseau"), "the offline page explains, in French");
    await shot(page, "19-registry-offline-fr");
  } finally {
    await context.setOffline(false);
  }
  await page.getByRole("link", { name: "Réessayer" }).click();
  await page.getByRole("heading", { level: 1, name: "Registre des espaces publics" }).waitFor();
}
offlineFallback.options = { viewport: { width: 390, height: 844 }, locale: "fr-FR", isMobile: true };

export const registry = [
  ["sign in and see the registry", signInSeesRegistry],
  ["switch the language", languageSwitches],
  ["filter the registry", filtersNarrowTheList],
  ["run and see a vehicle study", vehicleStudy],
  ["import a site, and an edit that conflicts", importAndEditConflict],
  ["search the library", librarySearch],
  ["a missing page leads back to the dashboard, in English and French, and a favicon", missingPage],
  ["the registry opened offline shows the offline page in French", offlineFallback],
  ["sign out", signOut],
];
