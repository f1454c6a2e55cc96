// Administration without a terminal: the demo's administrator invites a user, who sets a
// password through the one-time link, signs in and changes it; the administrator changes the
// user's role, disables the account (the user's session stops at once) and re-enables it.
import { createHmac } from "node:crypto";

import { BASE, check, shot, signIn } from "./lib.mjs";

const desktop = { viewport: { width: 1280, height: 900 }, locale: "en-GB" };

async function inviteSignInChangePassword(page, context) {
  const email = "new.steward." + Date.now() + "@vigie.demo";
  await signIn(page, "admin@vigie.demo");
  await page.getByRole("link", { name: "Accounts" }).click();
  await page.getByRole("heading", { level: 1, name: "Accounts" }).waitFor();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Organisation", { exact: true }).selectOption({ label: "Helsinki Markets and Malls (demo)" });
  await page.getByLabel("Role", { exact: true }).selectOption("operator");
  await page.getByRole("button", { name: "Invite" }).click();
  const path = await page.locator("#link-url").getAttribute("data-path");
  check(/^\/welcome\/[A-Za-z0-9_-]{20,}$/.test(path), "the invitation shows a one-time link: " + path);
  check(await page.locator(`#users-table tr[data-email="${email}"]`).count() === 1, "the invited user is listed");
  await shot(page, "20-admin-invites");
  // A new organisation, which the city's authority then oversees.
  const org = "Kauppatori traders " + Date.now();
  await page.getByLabel("Name", { exact: true }).fill(org);
  await page.getByLabel("Kind").selectOption("operator");
  await page.getByRole("button", { name: "Add an organisation" }).click();
  await page.locator(`#orgs-table tr[data-org="${org}"]`).waitFor();
  await page.getByLabel("Authority", { exact: true }).selectOption({ label: "City of Helsinki (demo)" });
  await page.getByLabel("Organisation it oversees").selectOption({ label: org });
  await page.getByRole("button", { name: "Let an authority read an organisation's sites" }).click();
  const city = await page.locator('#orgs-table tr[data-org="City of Helsinki (demo)"]').textContent();
  check(city.includes(org), "the city now reads the new organisation's sites: " + city);

  // The invited user, in another browser, opens the link and chooses a password.
  const theirs = await context.browser().newContext(desktop);
  const user = await theirs.newPage();
  try {
    await user.goto(BASE + path);
    await user.getByRole("heading", { level: 1, name: "Choose your password" }).waitFor();
    check((await user.locator("main").textContent()).includes(email), "the link page names the account");
    await shot(user, "21-welcome-set-password");
    await user.getByLabel("New password (at least 10 characters)").fill("first password 2026");
    await user.getByLabel("The new password again").fill("first password 2026");
    await user.getByRole("button", { name: "Set my password and sign in" }).click();
    await user.waitForURL(BASE + "/");
    check((await user.locator("header .who").textContent()).includes(email), "signed in as the new user");
    // The link works once.
    const again = await user.goto(BASE + path);
    check(again.status() === 404, "a used link is gone, not " + again.status());

    // The user changes the password; a wrong current one is refused.
    await user.goto(BASE + "/account");
    await user.getByLabel("Current password").fill("not my password");
    await user.getByLabel("New password (at least 10 characters)").fill("second password 2026");
    await user.getByLabel("The new password again").fill("second password 2026");
    await user.getByRole("button", { name: "Change my password" }).click();
    await user.getByRole("alert").filter({ hasText: "current password is not right" }).waitFor();
    await user.getByLabel("Current password").fill("first password 2026");
    await user.getByLabel("New password (at least 10 characters)").fill("second password 2026");
    await user.getByLabel("The new password again").fill("second password 2026");
    await user.getByRole("button", { name: "Change my password" }).click();
    await user.locator("#password-changed").waitFor();
    // An API token: its secret shown once, good for the API until revoked.
    await user.getByLabel("Name", { exact: true }).fill("monitoring script");
    await user.getByRole("button", { name: "Make a token" }).click();
    const secret = await user.locator("#new-token").inputValue();
    check(secret.startsWith("vg_"), "the token's secret is shown once");
    const api = (token) => user.request.get(BASE + "/api/v1/sites?limit=1", { headers: { Authorization: "Bearer " + token } });
    check((await api(secret)).status() === 200, "the token calls the API");
    await shot(user, "22-account-password-changed");
    await user.locator('#tokens-table tr[data-name="monitoring script"]').getByRole("button", { name: "Revoke" }).click();
    await user.locator('#tokens-table tr[data-name="monitoring script"]').getByText("revoked").waitFor();
    check((await api(secret)).status() === 401, "a revoked token stops");

    // The administrator disables the account: the user's next page is the sign-in page.
    await page.goto(BASE + "/admin/users");
    const row = page.locator(`#users-table tr[data-email="${email}"]`);
    await row.getByLabel("Role · " + email).selectOption("viewer");
    await row.getByRole("button", { name: "Change role" }).click();
    await page.locator(`#users-table tr[data-email="${email}"] select`).first().waitFor();
    check(await page.locator(`#users-table tr[data-email="${email}"] select`).inputValue() === "viewer", "the role changed");
    await page.locator(`#users-table tr[data-email="${email}"]`).getByRole("button", { name: "Disable" }).click();
    await page.locator(`#users-table tr[data-email="${email}"]`).getByText("disabled").waitFor();
    await user.goto(BASE + "/dashboard");
    await user.waitForURL(BASE + "/login");
    // Signing in again is refused, saying why.
    await user.getByLabel("Email").fill(email);
    await user.getByLabel("Password").fill("second password 2026");
    await user.getByRole("button", { name: "Sign in" }).click();
    await user.getByRole("alert").filter({ hasText: "This account is disabled" }).waitFor();
    // Re-enabled, the user signs in with the changed password.
    await page.locator(`#users-table tr[data-email="${email}"]`).getByRole("button", { name: "Re-enable" }).click();
    await page.locator(`#users-table tr[data-email="${email}"]`).getByText("active").waitFor();
    await user.getByLabel("Email").fill(email);
    await user.getByLabel("Password").fill("second password 2026");
    await user.getByRole("button", { name: "Sign in" }).click();
    await user.waitForURL(BASE + "/");
  } finally {
    await theirs.close();
  }
}
inviteSignInChangePassword.options = desktop;

// The audit viewer: filter by user and action, verify the chain from the page.
async function auditViewer(page) {
  await signIn(page, "admin@vigie.demo");
  await page.getByRole("link", { name: "Audit" }).click();
  await page.getByRole("heading", { level: 1, name: "Audit log" }).waitFor();
  check(await page.locator("#audit-table tbody tr").count() > 0, "the newest entries are listed");
  await page.getByLabel("User (email, or cli, system, anonymous)").fill("assessor@vigie.demo");
  await page.getByLabel("Action (or its start, e.g. site.)").fill("assessment.");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/action=assessment\./);
  const rows = page.locator("#audit-table tbody tr");
  const n = await rows.count();
  check(n > 0, "the demo's assessor made assessments");
  for (let i = 0; i < n; i++) {
    const cells = await rows.nth(i).locator("td").allTextContents();
    check(cells[2] === "assessor@vigie.demo" && cells[3].startsWith("assessment."), "every row matches the filter: " + cells.join(" | "));
  }
  await shot(page, "23-audit-viewer");
  await page.getByRole("button", { name: "Verify the chain" }).click();
  const verified = await page.locator("#audit-verified").textContent();
  check(/The audit log is intact: \d+ entries verified/.test(verified), "the chain verifies from the page: " + verified);
  const bad = await page.goto(BASE + "/admin/audit?from=2026-13-45");
  check(bad.status() === 422, "a date that does not exist is refused: " + bad.status());
}
auditViewer.options = desktop;

// The code an authenticator app shows (RFC 6238: HMAC-SHA-1, 30 s, 6 digits) for a base32 key,
// `stepsAhead` windows from now (the server accepts one step of drift).
function appCode(base32, stepsAhead = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + stepsAhead));
  const mac = createHmac("sha1", key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1000000).padStart(6, "0");
}

// An organisation's own administrator: the platform administrator makes a mall's user the
// account manager of the mall, who sees only the mall's accounts, sets up two-step sign-in and
// requires it of the mall: the mall's operator must then set it up before anything else.
async function organisationAdminAndTwoStepSignIn(page, context) {
  const email = "mall.manager." + Date.now() + "@vigie.demo";
  const mall = "Helsinki Markets and Malls (demo)";
  await signIn(page, "admin@vigie.demo");
  await page.goto(BASE + "/admin/users");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Organisation", { exact: true }).selectOption({ label: mall });
  await page.getByLabel("Role", { exact: true }).selectOption("operator");
  await page.getByRole("button", { name: "Invite" }).click();
  const path = await page.locator("#link-url").getAttribute("data-path");
  await page.locator(`#users-table tr[data-email="${email}"]`).getByRole("button", { name: "Make account manager" }).click();
  await page.locator(`#users-table tr[data-email="${email}"]`).getByRole("button", { name: "Remove account manager" }).waitFor();

  const theirs = await context.browser().newContext(desktop);
  const manager = await theirs.newPage();
  const operator = await (await context.browser().newContext(desktop)).newPage();
  try {
    await manager.goto(BASE + path);
    await manager.getByLabel("New password (at least 10 characters)").fill("manager password 2026");
    await manager.getByLabel("The new password again").fill("manager password 2026");
    await manager.getByRole("button", { name: "Set my password and sign in" }).click();
    await manager.waitForURL(BASE + "/");
    await manager.getByRole("link", { name: "Accounts" }).click();
    await manager.getByRole("heading", { level: 1, name: "Accounts" }).waitFor();
    const orgs = await manager.locator("#users-table tbody tr td:first-of-type").allTextContents();
    check(orgs.length >= 2 && orgs.every((o) => o === mall), "the manager sees the mall's accounts only: " + orgs.join(", "));
    const roles = await manager.locator("#invite-role option").evaluateAll((os) => os.map((o) => o.value));
    check(!roles.includes("admin"), "a manager cannot make administrators: " + roles.join(", "));
    check(!(await manager.getByRole("button", { name: "Add an organisation" }).count()), "nor create organisations");
    check(!(await manager.getByRole("link", { name: "Audit" }).count()), "nor read the audit log");

    // Two-step sign-in, set up with the key shown next to its QR code.
    await manager.goto(BASE + "/account");
    await manager.getByRole("button", { name: "Set up two-step sign-in" }).click();
    await manager.locator("#second-factor-qr").waitFor();
    const key = await manager.locator("#second-factor-key").inputValue();
    check(/^[A-Z2-7]{32}$/.test(key), "a 160-bit key in base32: " + key);
    await manager.getByLabel("Code from your authenticator app").fill("000000");
    await manager.getByRole("button", { name: "Turn on" }).click();
    await manager.getByRole("alert").filter({ hasText: "does not match" }).waitFor();
    check((await manager.locator("#second-factor-key").inputValue()) === key, "a wrong code keeps the same key");
    await manager.getByLabel("Code from your authenticator app").fill(appCode(key));
    await manager.getByRole("button", { name: "Turn on" }).click();
    await manager.locator("#second-factor-news").filter({ hasText: "Keep the app" }).waitFor();
    check((await manager.locator("#second-factor-state").textContent()).includes("is on"), "the account page says it is on");
    await shot(manager, "27-two-step-sign-in-on");

    // The mall requires it of everyone.
    await manager.goto(BASE + "/admin/users");
    await manager.locator(`#orgs-table tr[data-org="${mall}"]`).getByRole("button", { name: "Require" }).click();
    await manager.locator(`#orgs-table tr[data-org="${mall}"]`).getByText("Required").waitFor();
    await shot(manager, "28-organisation-admin");

    // The mall's operator has none: every page leads to setting it up, the API refuses.
    await operator.goto(BASE + "/login?lang=en");
    await operator.getByLabel("Email").fill("operator@vigie.demo");
    await operator.getByLabel("Password").fill("vigie-demo-2026");
    await operator.getByRole("button", { name: "Sign in" }).click();
    await operator.waitForURL(/\/account/);
    await operator.getByRole("alert").filter({ hasText: "Your organisation requires two-step sign-in" }).waitFor();
    await operator.goto(BASE + "/dashboard");
    await operator.waitForURL(/\/account/);
    await shot(operator, "29-two-step-sign-in-required");
    const api = await operator.request.get(BASE + "/api/v1/sites?limit=1");
    check(api.status() === 403 && (await api.json()).error.code === "second_factor_enrolment_required", "the API refuses until then: " + api.status());

    // Signing in again: the password alone is not enough; with the app's code it is.
    await manager.context().clearCookies();
    await manager.goto(BASE + "/login?lang=en");
    await manager.getByLabel("Email").fill(email);
    await manager.getByLabel("Password").fill("manager password 2026");
    await manager.getByRole("button", { name: "Sign in" }).click();
    await manager.getByRole("alert").filter({ hasText: "signs in in two steps" }).waitFor();
    await manager.getByLabel("Password").fill("manager password 2026");
    await manager.getByLabel("Code from your authenticator app").fill(appCode(key, 1));
    await manager.getByRole("button", { name: "Sign in" }).click();
    await manager.waitForURL(BASE + "/");
  } finally {
    // The demo's operator signs in with a password alone in the other tests.
    await manager.goto(BASE + "/admin/users").catch(() => {});
    const row = manager.locator(`#orgs-table tr[data-org="${mall}"]`);
    if (await row.getByRole("button", { name: "Make optional" }).count()) {
      await row.getByRole("button", { name: "Make optional" }).click();
      await row.getByText("Optional").waitFor();
    }
    await theirs.close();
    await operator.context().close();
  }
}
organisationAdminAndTwoStepSignIn.options = desktop;

// Only administrators see the accounts page.
async function othersCannotAdminister(page) {
  await signIn(page, "officer@vigie.demo");
  check(!(await page.getByRole("link", { name: "Accounts" }).count()), "no Accounts link for an authority");
  const response = await page.goto(BASE + "/admin/users");
  check(response.status() === 403, "the accounts page is refused: " + response.status());
  const audit = await page.goto(BASE + "/admin/audit");
  check(audit.status() === 403, "the audit log is refused: " + audit.status());
}
othersCannotAdminister.options = desktop;

export const admin = [
  ["admin invites a user, who sets a password with the link and changes it; disable stops the session", inviteSignInChangePassword],
  ["the audit viewer filters by user and action and verifies the chain", auditViewer],
  ["only administrators manage accounts and read the audit log", othersCannotAdminister],
  ["an organisation's administrator manages its accounts and requires two-step sign-in", organisationAdminAndTwoStepSignIn],
];
