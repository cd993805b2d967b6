// Opens Trailhound's HTML report in Debian's Chromium (through playwright-core) and checks that
// the charts rendered, that nothing tried to load from the network, that nothing logged an
// error, and that crafted user agents in the logs show as text without running.
//
//   REPORT_HTML=path/to/report.html [REPORT_OUT=target/browser] node --test tests/browser/report.test.mjs
//
// Saves a full-page screenshot `report.png` in REPORT_OUT (default: target/browser at the
// repository root). CHROMIUM overrides the browser path (/usr/bin/chromium).

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { ARGS, CHROMIUM } from "./chromium.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
// The crafted user agents planted in the test data.
const PAYLOADS = [
  "<script>window.__xss=1</script>",
  '<img src=x onerror="window.__xss=1">',
];

test("the HTML report renders its charts offline and runs nothing from the logs", { timeout: 180_000 }, async () => {
  const html = process.env.REPORT_HTML;
  assert.ok(html, "set REPORT_HTML to the report to open");
  assert.ok(existsSync(html), `no report at ${html}`);
  const outDir = process.env.REPORT_OUT
    ? path.resolve(process.env.REPORT_OUT)
    : path.join(ROOT, "target", "browser");
  mkdirSync(outDir, { recursive: true });

  const userDataDir = mkdtempSync(path.join(tmpdir(), "trailhound-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    offline: true,
  });
  try {
    const errors = [];
    const attempted = new Set();
    // Block every request that is not the file itself (or an inline data: URL).
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file:")) {
        return route.continue();
      }
      attempted.add(url);
      return route.abort();
    });
    context.on("request", (req) => {
      const url = req.url();
      if (!url.startsWith("file:") && !url.startsWith("data:")) {
        attempted.add(url);
      }
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (msg) => {
      if (msg.type() === "error") {
        errors.push(`console: ${msg.text()}`);
      }
    });
    page.on("pageerror", (err) => errors.push(`page error: ${err.message}`));

    const started = Date.now();
    await page.goto(pathToFileURL(path.resolve(html)).href, { waitUntil: "load" });
    await page.locator('[data-testid="incidents"]').waitFor();
    console.log(`report rendered in ${Date.now() - started} ms`);

    // The incidents come first, ranked; the planted attacks (EXPECT_TOP) rank within
    // EXPECT_MAX_RANK, as the rows' rank numbers say.
    const rows = page.locator('[data-testid="incident-row"]');
    assert.ok((await rows.count()) >= 1, "incident rows");
    const ranks = await rows.evaluateAll((rs) => rs.map((r) => [r.dataset.subject, Number(r.dataset.rank), Number(r.dataset.risk)]));
    ranks.forEach(([, rank], i) => assert.equal(rank, i + 1, "ranks in order"));
    for (let i = 1; i < ranks.length; i++) {
      if (ranks[i][2] > ranks[i - 1][2]) {
        // Only across the divider (incidents first, then keys with low alerts only).
        assert.equal(await page.locator('[data-testid="no-incident-divider"]').count(), 1, "risk falls within a part");
      }
    }
    const want = (process.env.EXPECT_TOP || "").split(",").filter(Boolean);
    const max = Number(process.env.EXPECT_MAX_RANK || "0");
    for (const key of want) {
      const hit = ranks.find(([s]) => s === key);
      assert.ok(hit && hit[1] <= max, `${key} ranks ${hit && hit[1]}, not within ${max}`);
    }
    const firstBox = await rows.first().boundingBox();
    assert.ok(firstBox && firstBox.y < 900, "the first incident is on the first screen");
    assert.ok((await page.locator('[data-testid="rule-row"]').count()) >= 1, "the rule summary");

    // The overview and at least one key section, each with its three charts.
    await assert.doesNotReject(page.locator('[data-testid="overview-timeline"]').waitFor());
    assert.ok((await page.locator('[data-testid="overview-timeline"] .marker').count()) >= 1, "overview markers");
    const sections = page.locator('[data-testid="key-section"]');
    const n = await sections.count();
    assert.ok(n >= 1, "at least one key section");
    let bars = 0;
    for (let i = 0; i < n; i++) {
      const s = sections.nth(i);
      const key = await s.getAttribute("data-key");
      for (const id of ["chart-unauthorized", "chart-geo", "chart-alerts"]) {
        const chart = s.locator(`svg[data-testid="${id}"]`);
        assert.equal(await chart.count(), 1, `${key}: one ${id}`);
        const box = await chart.boundingBox();
        assert.ok(box && box.width > 300 && box.height > 40, `${key}: ${id} is laid out (${JSON.stringify(box)})`);
      }
      const keyBars = await s.locator('svg[data-testid="chart-unauthorized"] rect.bar').count();
      if (keyBars > 0) {
        assert.equal(await s.locator('svg[data-testid="chart-unauthorized"] line.fence').count(), 1, `${key}: fence`);
      }
      bars += keyBars;
      const noActivity = await s.locator('svg[data-testid="chart-geo"] text.empty').count();
      if (noActivity === 0) {
        assert.ok((await s.locator('svg[data-testid="chart-geo"] circle.dot').count()) >= 1, `${key}: country dots`);
      }
      assert.ok((await s.locator('svg[data-testid="chart-alerts"] .marker').count()) >= 1, `${key}: alert markers`);
    }
    assert.ok(bars >= 1, "some unauthorized-call bars across the report");
    // The report's own script ran under its Content-Security-Policy (copy buttons shown).
    assert.ok(await page.locator("button[data-copy]").first().isVisible(), "inline script ran");

    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: path.join(outDir, "report.png"), fullPage: true });

    // The crafted user agents did not run, and they are shown as text.
    assert.equal(await page.evaluate(() => window.__xss), undefined, "window.__xss must not be set");
    await page.evaluate(() => document.querySelectorAll("details").forEach((d) => { d.open = true; }));
    for (const p of PAYLOADS) {
      const shown = page.getByText(p, { exact: false });
      assert.ok((await shown.count()) >= 1, `crafted text ${p} present`);
      assert.ok(await shown.first().isVisible(), `crafted text ${p} visible`);
    }
    assert.equal(await page.locator("img").count(), 0, "no <img> from the logs");
    assert.equal(await page.evaluate(() => window.__xss), undefined, "window.__xss must not be set");

    assert.deepEqual([...attempted], [], "no network requests");
    assert.deepEqual(errors, [], "no console or page errors");
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
});
