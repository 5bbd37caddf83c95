// Opens a page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
// no browser download) and prints what the status page browser test checks, as one JSON
// object on stdout: every connector section with its state text and computed colour,
// the charts, and every console error, page error and failed request.
//
//   NODE_PATH=.tools/status-browser/node_modules node scripts/status-page-probe.cjs URL
//
// CHROMIUM overrides the browser path. Exits 2 when the page cannot be opened at all;
// judging what it found is the caller's job (functions/wfo-connect/tests/status_page_browser.rs).
'use strict';

const { chromium } = require('playwright-core');

async function main() {
  const url = process.argv[2];
  if (!url) {
    console.error('usage: status-page-probe.cjs URL');
    process.exit(64);
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // playwright-core starts it with a fresh, temporary --user-data-dir.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60000,
  });
  const problems = [];
  try {
    const page = await browser.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
    const response = await page.goto(url, { waitUntil: 'load', timeout: 30000 });
    const status = response ? response.status() : 0;
    const found = await page.evaluate(() => ({
      title: document.title,
      connectors: Array.from(document.querySelectorAll('section.connector')).map((s) => {
        const state = s.querySelector('.state');
        return {
          id: s.getAttribute('data-connector'),
          state: state ? state.textContent : null,
          color: state ? getComputedStyle(state).color : null,
          charts: s.querySelectorAll('svg.chart').length,
          bars: s.querySelectorAll('svg.chart rect.bar').length,
          chartLabel: (s.querySelector('svg.chart') || { getAttribute: () => null }).getAttribute('aria-label'),
        };
      }),
    }));
    // Console messages can trail the load event by a tick.
    await page.waitForTimeout(200);
    process.stdout.write(JSON.stringify({ status, ...found, problems }) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  console.error(`status-page-probe: ${err && err.stack ? err.stack : err}`);
  process.exit(2);
});
