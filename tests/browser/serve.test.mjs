// Drives `trailhound serve` in Debian's Chromium (through playwright-core): lists alerts,
// filters them, opens one, sees its charts, closes it with a reason; checks that a crafted
// `<script>` user agent shows as text and never runs; and that state changes without the
// server's token, or from another site, are refused.
//
//   SERVE_URL=http://127.0.0.1:PORT/ XSS_KEY=AKIA... [SERVE_OUT=target/browser] \
//   [SERVE_RESULT=result.json] node --test tests/browser/serve.test.mjs
//
// Run by crates/cli/tests/serve_browser.rs, which starts the server on a store made by
// `trailhound hunt` and then checks in the store what this test did (SERVE_RESULT: the closed
// alert, the reason, the alert that must be untouched). Saves SERVE_OUT/serve.png.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launch } from "./chromium.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BASE = process.env.SERVE_URL;
const XSS_KEY = process.env.XSS_KEY;
const PAYLOAD = "<script>window.__xss=1</script>";
const OUT = process.env.SERVE_OUT ? path.resolve(process.env.SERVE_OUT) : path.join(ROOT, "target", "browser");
const ATTACKER = "http://attacker.test/";
const REASON = 'Benign: the CI runner\'s <b>new</b> address & "proxy"';
const BY = "browser-test";
const D4 = "aws-akia-unauthorized-api-call";

const result = {};
let browser;
let context;
const errors = [];
const foreign = new Set();

before(async () => {
  assert.ok(BASE, "set SERVE_URL to the server's address");
  assert.ok(XSS_KEY, "set XSS_KEY to the key whose alerts carry the crafted user agent");
  mkdirSync(OUT, { recursive: true });
  browser = await launch();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const origin = new URL(BASE).origin;
  // Only the server (and the attacker page fulfilled below) may be reached.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin + "/") || url.startsWith("data:")) {
      return route.continue();
    }
    if (url === ATTACKER) {
      return route.fulfill({ status: 200, contentType: "text/html", body: attackerPage(result.untouched) });
    }
    foreign.add(url);
    return route.abort();
  });
  context.on("page", (page) => {
    page.on("console", (msg) => {
      // The attacker page's own fetch is expected to fail, and the refusals of the last test
      // are logged as failed (403) loads; anything else on the server's pages is an error.
      const refused = /the server responded with a status of 403/.test(msg.text());
      if (msg.type() === "error" && page.url().startsWith(origin) && !refused) {
        errors.push(`console: ${msg.text()}`);
      }
    });
    page.on("pageerror", (err) => errors.push(`page error: ${err.message}`));
  });
});

after(async () => {
  if (process.env.SERVE_RESULT) {
    writeFileSync(process.env.SERVE_RESULT, JSON.stringify(result, null, 2));
  }
  await context?.close();
  await browser?.close();
});

/// A page of another site that tries two classic cross-site requests against an alert:
/// a form POST (text/plain, no token) that navigates the page, after a CORS fetch with the
/// token header (which needs a preflight the server never answers).
function attackerPage(id) {
  const url = new URL(`/api/alerts/${id}/close`, BASE).href;
  return `<!DOCTYPE html><html><body>
<form id="f" method="POST" action="${url}" enctype="text/plain"><input name='{"by":"mallory","reason":"csrf","x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(url)}, { method: "POST", headers: { "Content-Type": "application/json", "X-Trailhound-Token": "stolen" }, body: '{"by":"mallory"}' })
  .then(function (r) { document.title = "fetch:" + r.status; }, function () { document.title = "fetch:blocked"; })
  .then(function () { window.__fetchDone = true; document.getElementById("f").submit(); });
</script></body></html>`;
}

test("the first page ranks incidents, the planted attacks on top, and opens one", { timeout: 180_000 }, async () => {
  const page = await context.newPage();
  const started = Date.now();
  await page.goto(BASE, { waitUntil: "load" });
  const rows = page.locator('tr[data-testid="incident-row"]');
  await rows.first().waitFor();
  console.log(`incident list rendered in ${Date.now() - started} ms`);
  const ranks = await rows.evaluateAll((rs) => rs.map((r) => [r.dataset.subject, Number(r.dataset.rank), Number(r.dataset.risk)]));
  ranks.forEach(([, rank, risk], i) => {
    assert.equal(rank, i + 1, "ranks in order");
    if (i > 0) assert.ok(risk <= ranks[i - 1][2], "highest risk first");
  });
  const want = (process.env.EXPECT_TOP || "").split(",").filter(Boolean);
  const max = Number(process.env.EXPECT_MAX_RANK || "0");
  assert.ok(want.length > 0, "EXPECT_TOP names the planted keys");
  for (const key of want) {
    const hit = ranks.find(([sub]) => sub === key);
    assert.ok(hit && hit[1] <= max, `${key} ranks ${hit && hit[1]}, not within ${max}`);
  }
  // The API gives the same order.
  const api = await page.evaluate(async () => (await fetch("/api/incidents")).json());
  assert.deepEqual(api.incidents.map((i) => i.subject), ranks.map(([sub]) => sub));
  // Open the first: its story, containment and alerts.
  await Promise.all([page.waitForURL(/\/incidents\//), rows.first().locator("a").first().click()]);
  await page.locator('[data-testid="incident-story"]').waitFor();
  assert.ok((await page.locator('tr[data-testid="alert-row"]').count()) >= 1, "the incident's alerts");
  assert.ok((await page.locator('[data-testid="status-form"] button[data-action="ack"]').count()) === 1, "it can be acknowledged");
  await page.screenshot({ path: path.join(OUT, "serve-incident.png"), fullPage: true });
  await page.close();
});

test("lists alerts, filters, opens one, sees the charts and closes it with a reason", { timeout: 180_000 }, async () => {
  const page = await context.newPage();
  await page.goto(new URL("/alerts", BASE).href, { waitUntil: "load" });
  const rows = page.locator('tr[data-testid="alert-row"]');
  await rows.first().waitFor();
  assert.ok((await rows.count()) >= 2, "the list shows alerts");
  // Filter through the form: open D4 alerts.
  await page.locator('form[data-testid="filters"] select[name="status"]').selectOption("open");
  await page.locator('form[data-testid="filters"] input[name="rule"]').fill(D4);
  await Promise.all([page.waitForURL(/status=open/), page.locator('form[data-testid="filters"] button[type="submit"]').click()]);
  await rows.first().waitFor();
  const n = await rows.count();
  assert.ok(n >= 1, "open D4 alerts listed");
  for (let i = 0; i < n; i++) {
    assert.equal(await rows.nth(i).getAttribute("data-status"), "open");
  }
  const id = await rows.first().getAttribute("data-id");
  result.closed = id;
  // Open it.
  await Promise.all([page.waitForURL(new RegExp(`/alerts/${id}$`)), rows.first().locator("td.when a").click()]);
  // The charts.
  for (const c of ["chart-unauthorized", "chart-geo", "chart-alerts"]) {
    const chart = page.locator(`svg[data-testid="${c}"]`);
    assert.equal(await chart.count(), 1, c);
    const box = await chart.boundingBox();
    assert.ok(box && box.width > 300 && box.height > 40, `${c} is laid out (${JSON.stringify(box)})`);
  }
  assert.ok((await page.locator('svg[data-testid="chart-unauthorized"] rect.bar').count()) >= 1, "unauthorized-call bars");
  assert.equal(await page.locator('svg[data-testid="chart-unauthorized"] line.fence').count(), 1, "Tukey fence");
  assert.ok((await page.locator('svg[data-testid="chart-geo"] circle.dot').count()) >= 1, "country dots");
  assert.ok((await page.locator('svg[data-testid="chart-alerts"] .marker').count()) >= 1, "alert markers");
  assert.equal(await page.locator('svg[data-testid="chart-alerts"] .marker.current').count(), 1, "this alert stands out");
  // The report's script ran from /static/ under the CSP (copy buttons shown).
  assert.ok(await page.locator("button[data-copy]").first().isVisible(), "report.js ran");
  // Close it with a reason.
  await page.locator("#status-by").fill(BY);
  await page.locator("#status-reason").fill(REASON);
  await Promise.all([page.waitForEvent("load"), page.locator('button[data-action="close"]').click()]);
  const status = page.locator('[data-testid="alert-status"]');
  await status.locator(".status.closed").waitFor();
  assert.equal(await status.locator('[data-testid="status-reason"]').textContent(), REASON);
  assert.match(await page.locator('[data-testid="status-history"] tbody').textContent(), /open → closed/);
  assert.equal(await page.locator('button[data-action="reopen"]').count(), 1, "a closed alert can be reopened");
  // The name is remembered for the next change.
  assert.equal(await page.locator("#status-by").inputValue(), BY);
  // The API agrees.
  const api = await page.evaluate(async (u) => (await fetch(u)).json(), `/api/alerts/${id}`);
  assert.equal(api.status, "closed");
  assert.equal(api.status_reason, REASON);
  assert.equal(api.status_by, BY);
  result.reason = REASON;
  result.by = BY;
  await page.screenshot({ path: path.join(OUT, "serve.png"), fullPage: true });
  await page.close();
});

test("a <script> user agent is shown as text and never runs", { timeout: 120_000 }, async () => {
  const page = await context.newPage();
  await page.goto(new URL(`/keys/${XSS_KEY}`, BASE).href, { waitUntil: "load" });
  const agents = page.locator('table[data-testid="key-user-agents"]');
  await agents.waitFor();
  const cell = agents.getByText(PAYLOAD, { exact: true });
  assert.equal(await cell.count(), 1, "the crafted user agent is listed");
  assert.ok(await cell.isVisible(), "and visible as text");
  assert.equal(await page.evaluate(() => window.__xss), undefined, "window.__xss must not be set");
  // Only the server's two scripts exist in the page.
  assert.deepEqual(
    await page.evaluate(() => Array.from(document.scripts).map((s) => new URL(s.src).pathname)),
    ["/static/report.js", "/static/web.js"],
  );
  // One of the key's open alerts: its page shows the user agent in the evidence.
  const open = page.locator('tr[data-testid="alert-row"][data-status="open"]');
  assert.ok((await open.count()) >= 1, "the crafted key has an open alert");
  result.untouched = await open.first().getAttribute("data-id");
  await Promise.all([page.waitForURL(/\/alerts\//), open.first().locator("td.when a").click()]);
  const evidence = page.locator('[data-testid="evidence"]');
  const shown = evidence.getByText(PAYLOAD, { exact: true });
  assert.ok((await shown.count()) >= 1, "the user agent is in the evidence");
  assert.ok(await shown.first().isVisible());
  assert.equal(await page.locator("img").count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined, "window.__xss must not be set");
  await page.close();
});

test("state changes without the token or from another site are refused", { timeout: 120_000 }, async () => {
  const id = result.untouched;
  assert.ok(id, "the previous test picked an alert");
  const page = await context.newPage();
  await page.goto(new URL(`/alerts/${id}`, BASE).href, { waitUntil: "load" });
  // Same origin, but without the token: 403.
  const noToken = await page.evaluate(async (u) => {
    const r = await fetch(u, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"by":"x"}' });
    return { status: r.status, body: await r.json() };
  }, `/api/alerts/${id}/close`);
  assert.deepEqual(noToken, { status: 403, body: { error: "refused: missing or wrong X-Trailhound-Token header" } });
  // Another site: its CORS fetch never reaches the handler, and its form post is refused by the
  // server (or blocked by the browser before it leaves).
  await page.goto(ATTACKER, { waitUntil: "load" });
  await page.waitForURL(new RegExp(`/api/alerts/${id}/close$`), { timeout: 15_000 }).catch(() => {});
  const landed = page.url();
  if (landed.endsWith(`/api/alerts/${id}/close`)) {
    const text = await page.locator("body").textContent();
    assert.deepEqual(JSON.parse(text), { error: "refused: a cross-site request (Sec-Fetch-Site)" });
    result.cross_site = "refused by the server";
  } else {
    result.cross_site = `blocked by the browser (${landed})`;
  }
  // The alert is untouched.
  await page.goto(new URL(`/alerts/${id}`, BASE).href, { waitUntil: "load" });
  const api = await page.evaluate(async (u) => (await fetch(u)).json(), `/api/alerts/${id}`);
  assert.equal(api.status, "open");
  assert.deepEqual(api.history, []);
  await page.close();
  assert.deepEqual([...foreign], [], "no request left the server and the test's attacker page");
  assert.deepEqual(errors, [], "no console or page errors on the server's pages");
});
