// Drives a shared `trailhound serve` (TLS with a test certificate, authentication on) in Debian's
// Chromium: without a token, 401 and the sign-in page; a read-only user signs in and is refused
// when closing an alert; a triage user closes it; the admin's audit log names who did.
//
//   SERVE_URL=https://127.0.0.1:PORT/ READ_TOKEN=thk_… TRIAGE_TOKEN=thk_… ADMIN_TOKEN=thk_… \
//   ALERT_ID=… [SERVE_OUT=target/browser] node --test tests/browser/auth.test.mjs
//
// Run by crates/cli/tests/serve_browser.rs, which then checks the store. Saves SERVE_OUT/audit.png.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launch } from "./chromium.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BASE = process.env.SERVE_URL;
const ALERT = process.env.ALERT_ID;
const OUT = process.env.SERVE_OUT ? path.resolve(process.env.SERVE_OUT) : path.join(ROOT, "target", "browser");

let browser;
let context;
let page;

before(async () => {
  assert.ok(BASE && BASE.startsWith("https://"), "set SERVE_URL to the server's https:// address");
  assert.ok(ALERT, "set ALERT_ID to an open alert");
  mkdirSync(OUT, { recursive: true });
  browser = await launch();
  // The test certificate is self-signed.
  context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  const origin = new URL(BASE).origin;
  await context.route("**/*", (route) => {
    const url = route.request().url();
    return url.startsWith(origin + "/") || url.startsWith("data:") ? route.continue() : route.abort();
  });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
});

async function signIn(token, who) {
  await page.goto(new URL("/login", BASE).href, { waitUntil: "load" });
  await page.locator("#login-token").fill(token);
  await Promise.all([page.waitForURL(new URL("/", BASE).href), page.locator('[data-testid="login-button"]').click()]);
  await page.locator('[data-testid="signed-in"]').waitFor();
  assert.equal(await page.locator('[data-testid="signed-in"]').textContent(), who);
}

async function signOut() {
  await Promise.all([page.waitForURL(/\/login$/), page.locator("nav.top .sign-out").click()]);
}

async function statusOf(id) {
  const r = await page.request.get(new URL(`/api/alerts/${id}`, BASE).href, {
    headers: { Authorization: `Bearer ${process.env.ADMIN_TOKEN}` },
  });
  assert.equal(r.status(), 200);
  return (await r.json()).status;
}

test("over TLS, nothing without a token: 401 and the sign-in page", async () => {
  const api = await page.request.get(new URL("/api/alerts", BASE).href);
  assert.equal(api.status(), 401);
  assert.match((await api.json()).error, /^unauthorized/);
  const res = await page.goto(BASE, { waitUntil: "load" });
  assert.equal(res.status(), 401);
  const tls = await res.securityDetails();
  assert.ok(tls && /^TLS/.test(tls.protocol), `TLS: ${JSON.stringify(tls)}`);
  await page.locator('[data-testid="login-form"]').waitFor();
  assert.equal(await page.locator('tr[data-testid="incident-row"]').count(), 0, "no incident shows");
  // A wrong token is refused, with the reason.
  await page.locator("#login-token").fill("thk_not_a_token");
  await page.locator('[data-testid="login-button"]').click();
  await page.locator('[data-testid="login-error"]:not([hidden])').waitFor();
  assert.match(await page.locator('[data-testid="login-error"]').textContent(), /unknown or revoked/);
});

test("a read-only user sees the alerts but cannot close one", async () => {
  await signIn(process.env.READ_TOKEN, "rita (read)");
  assert.ok((await page.locator('tr[data-testid="incident-row"]').count()) >= 1, "incidents show");
  await page.goto(new URL(`/alerts/${ALERT}`, BASE).href, { waitUntil: "load" });
  await page.locator('[data-testid="signed-in"]').waitFor();
  assert.equal(await page.locator("#status-by").inputValue(), "rita");
  assert.equal(await page.locator("#status-by").getAttribute("readonly"), "");
  await page.locator("#status-reason").fill("I should not be able to");
  await page.locator('button[data-action="close"]').click();
  await page.locator("#status-error:not([hidden])").waitFor();
  assert.match(await page.locator("#status-error").textContent(), /rita has the read role; this needs triage/);
  assert.equal(await statusOf(ALERT), "open");
  assert.equal(await page.locator('nav.top a[href="/audit"]').count(), 0, "no audit link for read");
  const audit = await page.goto(new URL("/audit", BASE).href);
  assert.equal(audit.status(), 403);
  await page.goto(BASE, { waitUntil: "load" });
  await page.locator('[data-testid="signed-in"]').waitFor();
  await signOut();
  assert.equal((await page.request.get(new URL("/api/alerts", BASE).href)).status(), 401, "signed out");
});

test("a triage user closes it, recorded under their name", async () => {
  await signIn(process.env.TRIAGE_TOKEN, "tom (triage)");
  await page.goto(new URL(`/alerts/${ALERT}`, BASE).href, { waitUntil: "load" });
  await page.locator('[data-testid="signed-in"]').waitFor();
  assert.equal(await page.locator("#status-by").inputValue(), "tom");
  await page.locator("#status-reason").fill("Benign: the new office's address");
  await Promise.all([page.waitForEvent("load"), page.locator('button[data-action="close"]').click()]);
  await page.locator('[data-testid="alert-status"] .status.closed').waitFor();
  assert.match(await page.locator('[data-testid="status-history"] tbody').textContent(), /tom/);
  assert.equal(await statusOf(ALERT), "closed");
  await signOut();
});

test("the admin's audit log shows who closed it", async () => {
  await signIn(process.env.ADMIN_TOKEN, "ada (admin)");
  await Promise.all([page.waitForURL(/\/audit$/), page.locator('nav.top a[href="/audit"]').click()]);
  const first = page.locator('tr[data-testid="audit-row"]').first();
  const cells = await first.locator("td").allTextContents();
  assert.equal(cells[1], "tom");
  assert.equal(cells[2], "alert.closed");
  assert.equal(cells[3], ALERT);
  assert.equal(cells[4], "Benign: the new office's address");
  const all = await page.locator('table[data-testid="audit"] tbody').textContent();
  assert.match(all, /user\.added/);
  assert.match(all, /token\.created/);
  await page.screenshot({ path: path.join(OUT, "audit.png"), fullPage: true });
});
