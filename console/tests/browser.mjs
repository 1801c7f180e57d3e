// The console in a real browser: Debian's Chromium driven by playwright-core against a running
// stack (TOLLGATE_URL, TOLLGATE_ADMIN_TOKEN; scripts/console-test starts one). Each step
// asserts what a person would see; every page is also saved as a screenshot at desktop and
// phone width into SHOTS_DIR when it is set (docs/console/ holds the committed ones).
import { strict as assert } from 'node:assert';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

// axe-core checks each page for accessibility problems (WCAG 2 A and AA rules).
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const url = process.env.TOLLGATE_URL;
const admin = process.env.TOLLGATE_ADMIN_TOKEN;
assert.ok(url && admin, 'TOLLGATE_URL and TOLLGATE_ADMIN_TOKEN are needed');
const shots = process.env.SHOTS_DIR;
if (shots) mkdirSync(shots, { recursive: true });
const consoleUrl = `${url}/console/`;

async function api(token, method, path, body) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function eventually(what, check, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const chat = (key) =>
  api(key, 'POST', '/v1/chat/completions', { model: 'demo-small', max_tokens: 5, messages: [{ role: 'user', content: 'Hello from the browser test' }] });
const balanceOf = async (tenant) => (await api(admin, 'GET', `/api/v1/tenants/${tenant}/balance`)).body;

// Two tenants of this run, each with a key and credit.
async function tenant(name, credit) {
  const made = await api(admin, 'POST', '/api/v1/tenants', { name });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const key = await api(admin, 'POST', `/api/v1/tenants/${made.body.id}/keys`, { name: 'first key', manage_keys: true });
  assert.equal(key.status, 201);
  await api(admin, 'POST', `/api/v1/tenants/${made.body.id}/credits`, { amount_usd: credit, idempotency_key: `browser-${made.body.id}` });
  await eventually('the credit to be booked', async () => (await balanceOf(made.body.id)).credited_usd === credit);
  return { id: made.body.id, key: key.body.key };
}
const run = Date.now().toString(36);
const acme = await tenant(`Acme <b>${run}</b>`, '10');
const globex = await tenant(`Globex ${run}`, '20');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
// A zone far from UTC: times must show in the browser's zone, UTC on hover.
const zone = 'Asia/Kolkata';
const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true, timezoneId: zone, locale: 'en-US' });
const page = await context.newPage();
page.on('console', (message) => {
  if (message.type() === 'error') problems.push(`console: ${message.text()}`);
});
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
// A refused API call shows up as a console error of the browser: these are the ones a step
// provokes on purpose.
const expectedRefusals = [/status of 404/, /status of 401/];

/** Fails on any serious or critical accessibility violation of the page as it is now. */
async function accessible(name, skipped = []) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async (skipped) => {
    const rules = Object.fromEntries(skipped.map((rule) => [rule, { enabled: false }]));
    const result = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'], rules });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')})`);
  }, skipped);
  assert.deepEqual(violations, [], `${name} has accessibility violations`);
}

async function shoot(name, fullPage = true, skipped = []) {
  await accessible(name, skipped);
  if (!shots) return;
  await page.waitForLoadState('networkidle');
  await page.screenshot({ path: join(shots, `${name}-desktop.png`), fullPage });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(shots, `${name}-phone.png`), fullPage });
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.waitForTimeout(200);
}

const step = (name) => console.log(`browser: ${name}`);

// At phone width nothing but a table's own scroll region is wider than the screen.
async function fitsPhone(name) {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const [overflow, widest] = await page.evaluate(() => {
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('.table-wrap'))
      .map((el) => `${el.tagName.toLowerCase()}.${el.className} "${(el.textContent ?? "").slice(0, 40)}" in ${el.parentElement?.className}`);
    return [document.documentElement.scrollWidth - window.innerWidth, wide.slice(-3)];
  });
  await page.setViewportSize({ width: 1280, height: 860 });
  assert.ok(overflow <= 0, `${name} is ${overflow} px wider than a phone: ${widest.join(', ')}`);
}

// 1. Sign-in page; a wrong key is refused in words.
step('sign in with a wrong key, then the tenant key');
await page.goto(consoleUrl);
await page.getByLabel('API key or operator token').fill('tg_wrong');
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByRole('alert').waitFor();
assert.match(await page.getByRole('alert').innerText(), /invalid|revoked|unknown/i);
await shoot('sign-in');
await page.getByLabel('API key or operator token').fill(acme.key);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByRole('heading', { level: 1, name: `Acme <b>${run}</b>` }).waitFor();
assert.equal(await page.locator('h1 b').count(), 0, 'a tenant name is shown as text, never as markup');
const balanceCell = page.getByTestId('balance').locator('.money');
assert.equal(await balanceCell.innerText(), '$10.00');
assert.equal(await balanceCell.getAttribute('title'), '$10 exactly');
assert.equal(await page.evaluate(() => sessionStorage.getItem('tollgate.credential')), acme.key);
const asOf = page.locator('.stat time').first();
const asOfIso = await asOf.getAttribute('datetime');
const inZone = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: zone });
assert.equal(await asOf.innerText(), inZone.format(new Date(asOfIso)), 'shown in the browser zone');
assert.match(await asOf.getAttribute('title'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z UTC$/);
assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in local storage');

// The keyboard reaches the navigation: Tab from the top, Enter follows the link.
await page.locator('body').focus();
let reached = false;
for (let i = 0; i < 12 && !reached; i++) {
  await page.keyboard.press('Tab');
  reached = await page.evaluate(() => document.activeElement?.textContent === 'Ledger');
}
assert.ok(reached, 'Tab reaches the Ledger link');
await page.keyboard.press('Enter');
await page.getByRole('heading', { name: 'Credit history' }).waitFor();

// 2. Create a key with a limit of 2 requests a minute; its secret is shown once.
step('create a key with rpm 2');
await page.getByRole('link', { name: 'Keys' }).click();
await page.getByRole('heading', { name: 'Create a key' }).waitFor();
await page.getByLabel('Name', { exact: true }).fill('browser key');
await page.getByLabel('Requests per minute').fill('2');
await page.getByLabel('Budget (USD)').fill('3.50');
await page.getByRole('button', { name: 'Create key' }).click();
const secret = await page.getByTestId('new-key').inputValue();
assert.match(secret, /^tg_/);
await page.getByRole('cell', { name: 'browser key', exact: true }).waitFor();
await shoot('keys');
await fitsPhone('keys');
assert.ok(!(await page.locator('table').innerText()).includes(secret), 'the list never shows a secret');

// 3. Requests with the new key: the limit holds, and the balance and chart follow.
step('send requests with the new key');
assert.equal((await chat(secret)).status, 200);
assert.equal((await chat(secret)).status, 200);
const limited = await chat(secret);
assert.equal(limited.status, 429, JSON.stringify(limited.body));
await page.getByRole('link', { name: 'Overview' }).click();
await eventually('the balance to drop below $10', async () => {
  const exact = await page.getByTestId('balance').locator('.money').getAttribute('data-exact').catch(() => null);
  return exact !== null && Number(exact) < 10;
});
const shownExact = await page.getByTestId('balance').locator('.money').getAttribute('data-exact');
assert.equal(shownExact, (await balanceOf(acme.id)).balance_usd, 'the page shows the ledger balance exactly');
await eventually('the usage chart', async () => (await page.getByTestId('requests').innerText().catch(() => '0')) !== '0');
await page.locator('.chart canvas').first().waitFor();
assert.ok(Number((await page.getByTestId('requests').innerText()).replace(/\D/g, '')) >= 2);
await shoot('overview');
await fitsPhone('overview');

// 4. Edit the limit: it takes effect.
step('raise the key limit');
await page.getByRole('link', { name: 'Keys' }).click();
await page.getByRole('button', { name: 'Edit browser key' }).click();
await page.getByLabel('Requests per minute').fill('100');
await page.getByRole('button', { name: 'Save' }).click();
await page.getByText('Saved "browser key".').waitFor();
await eventually('the raised limit', async () => (await chat(secret)).status === 200, 10);

// 5. The ledger exports as CSV with the right rows.
step('export the ledger as CSV');
await page.getByRole('link', { name: 'Ledger' }).click();
await page.getByRole('heading', { name: 'Credit history' }).waitFor();
// More than a page (100) of entries: "Older entries" brings the rest.
for (let batch = 0; batch < 11; batch++) {
  const answers = await Promise.all(Array.from({ length: 10 }, () => chat(acme.key)));
  assert.ok(answers.every((a) => a.status === 200), JSON.stringify(answers.map((a) => a.status)));
}
let entries = [];
await eventually('every ledger row on the page', async () => {
  entries = (await api(acme.key, 'GET', `/api/v1/tenants/${acme.id}/ledger?limit=1000`)).body.data;
  if (entries.length < 110) return false;
  await page.reload();
  await page.getByRole('heading', { name: 'Credit history' }).waitFor();
  const older = page.getByRole('button', { name: 'Older entries' });
  while ((await older.count()) > 0) {
    const shown = await page.locator('tbody tr').count();
    await older.click();
    await page.waitForFunction((n) => document.querySelectorAll('tbody tr').length > n, shown);
  }
  return (await page.locator('tbody tr').count()) === entries.length;
}, 60);
const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
const csv = readFileSync(await download.path(), 'utf8').trim().split(/\r\n/);
assert.equal(download.suggestedFilename(), 'ledger.csv');
assert.equal(csv[0], 'When,Kind,Amount (USD),Model,Detail,Event');
assert.equal(csv.length, entries.length + 1, csv.join('\n'));
for (const [i, entry] of entries.entries()) {
  assert.ok(csv[i + 1].startsWith(`${entry.occurred_at},`), `${csv[i + 1]} vs ${JSON.stringify(entry)}`);
  assert.ok(csv[i + 1].includes(`,${entry.amount_usd},`) && csv[i + 1].endsWith(entry.event_id));
}
await shoot('ledger', false);
await fitsPhone('ledger');

// Revoke the new key from its row: requests with it stop.
step('revoke the new key');
await page.getByRole('link', { name: 'Keys' }).click();
page.once('dialog', (dialog) => dialog.accept());
await page.getByRole('button', { name: 'Revoke browser key' }).click();
await page.getByRole('cell', { name: 'revoked' }).waitFor();
await eventually('the revoked key to be refused', async () => (await chat(secret)).status === 401, 10);

// 6. Alerts: add a rule.
step('add an alert rule');
await page.getByRole('link', { name: 'Alerts' }).click();
await page.getByLabel('Threshold (USD, or percent)').fill('5');
await page.getByRole('button', { name: 'Add rule' }).click();
await page.getByRole('cell', { name: 'balance below $5', exact: true }).waitFor();
await shoot('alerts');
await fitsPhone('alerts');

// 7. Another tenant's pages are not found.
step("open another tenant's page");
await page.goto(`${consoleUrl}#/t/${globex.id}/keys`);
await page.getByRole('alert').filter({ hasText: 'Not found' }).waitFor();
assert.match(await page.getByRole('alert').innerText(), /tenant not found/);
assert.ok(!(await page.content()).includes(`Globex ${run}`));

// 8. Sign out clears the session.
step('sign out');
await page.getByRole('button', { name: 'Sign out' }).click();
await page.getByRole('button', { name: 'Sign in' }).waitFor();
assert.equal(await page.evaluate(() => sessionStorage.length), 0);

// 9. The operator: every tenant, one tenant's page, credit granted once for a double click
// and once more for a replay of the same submission.
step('operator: tenants, grant credit twice with one idempotency key');
await page.getByLabel('API key or operator token').fill(admin);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByRole('heading', { level: 1, name: 'Tenants' }).waitFor();
await page.getByRole('link', { name: `Globex ${run}` }).waitFor();
await shoot('tenants');
await fitsPhone('tenants');
await page.getByRole('link', { name: `Globex ${run}` }).click();
await page.getByRole('heading', { level: 1, name: `Globex ${run}` }).waitFor();
const before = await balanceOf(globex.id);
const grants = [];
page.on('request', (request) => {
  if (request.method() === 'POST' && request.url().endsWith(`/api/v1/tenants/${globex.id}/credits`)) grants.push(request.postDataJSON());
});
await page.getByLabel('Amount (USD)').first().fill('5');
await page.getByLabel('Note (optional)').fill('browser test');
await page.getByRole('button', { name: 'Grant credit' }).dblclick();
await page.getByText(/Credit: .* booked/).waitFor();
assert.ok(grants.length >= 1 && grants.every((g) => g.idempotency_key === grants[0].idempotency_key), JSON.stringify(grants));
const replay = await page.evaluate(async ([path, body]) => {
  const response = await fetch(path, { method: 'POST', headers: { authorization: `Bearer ${sessionStorage.getItem('tollgate.credential')}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return response.json();
}, [`/api/v1/tenants/${globex.id}/credits`, grants[0]]);
await eventually('the grant to be booked', async () => (await balanceOf(globex.id)).credited_usd === '25');
await new Promise((r) => setTimeout(r, 1500));
const after = await balanceOf(globex.id);
assert.equal(after.credited_usd, '25', `credited once: ${JSON.stringify(after)}`);
assert.equal(Number(after.balance_usd) - Number(before.balance_usd), 5);
assert.match(replay.event_id, /^[0-9a-f-]{36}$/);
await page.getByTestId('balance').locator('.money', { hasText: '$25.00' }).waitFor();
await shoot('tenant-operator');
await fitsPhone('tenant-operator');

step('operator: a key that may manage keys');
await page.getByRole('link', { name: 'Keys' }).click();
await page.getByLabel('Name', { exact: true }).fill('team admin');
await page.getByLabel('May manage keys').check();
await page.getByRole('button', { name: 'Create key' }).click();
const adminSecret = await page.getByTestId('new-key').inputValue();
const adminMe = await api(adminSecret, 'GET', '/api/v1/me');
assert.equal(adminMe.body.manage_keys, true, JSON.stringify(adminMe.body));
assert.equal(adminMe.body.tenant_id, globex.id);

step('operator: providers, top spend');
await page.getByRole('link', { name: 'Providers' }).click();
await page.getByRole('heading', { name: 'Deployments' }).waitFor();
assert.ok((await page.locator('tbody tr').count()) >= 1);
await shoot('providers');
await fitsPhone('providers');
await page.getByRole('link', { name: 'Top spend' }).click();
await page.getByRole('heading', { name: 'Top tenants by spend' }).waitFor();
await eventually('Acme among the top tenants', async () => {
  await page.reload();
  await page.getByRole('heading', { name: 'Top tenants by spend' }).waitFor();
  return (await page.getByRole('link', { name: `Acme <b>${run}</b>` }).count()) > 0;
});
await shoot('top');
await fitsPhone('top');

// A viewer operator token looks at every tenant but grants nothing.
step('operator: a viewer token');
const viewer = await api(admin, 'POST', '/api/v1/operator-tokens', { name: `browser viewer ${run}`, role: 'viewer' });
assert.equal(viewer.status, 201, JSON.stringify(viewer.body));
await page.getByRole('button', { name: 'Sign out' }).click();
await page.getByLabel('API key or operator token').fill(viewer.body.token);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByRole('link', { name: `Globex ${run}` }).waitFor();
assert.equal(await page.getByRole('heading', { name: 'New tenant' }).count(), 0);
await page.getByRole('link', { name: `Globex ${run}` }).click();
await page.getByText('Your operator role may look but not grant credit.').waitFor();
assert.equal(await page.getByRole('button', { name: 'Grant credit' }).count(), 0);

// 10. The API reference renders every operation of this gateway's document and tries calls:
// with the console's sign-in, with a pasted tenant key (its example body answers 200), and
// another tenant's balance (404).
step('API reference');
const documented = (await (await fetch(`${url}/openapi.json`)).json()).paths;
const operations = Object.values(documented).reduce((n, item) => n + Object.keys(item).length, 0);
await page.goto(`${url}/docs/`);
await page.getByText('/api/v1/tenants/{tenant_id}/balance').first().waitFor();
assert.ok(operations >= 40, `${operations} operations`);
assert.equal(await page.locator('details.op').count(), operations, 'every operation is listed');
assert.equal(await page.locator('.tag-group').count(), 11, 'the operations are grouped by area');
const operation = (id) => page.locator(`details#${id}`);
const tryOperation = async (id) => {
  const op = operation(id);
  if (!(await op.evaluate((el) => el.open))) await op.locator('summary').click();
  await op.getByRole('button', { name: 'Send request' }).click();
  return op.locator('.result');
};
await page.getByText('Operator (viewer)').waitFor();
let result = await tryOperation('get-api-v1-me');
await result.locator('.status', { hasText: '200' }).waitFor();
assert.match(await result.locator('.response-body').innerText(), /"role": "viewer"/);
await page.evaluate(() => window.scrollTo(0, 0));
await shoot('docs', false);
// A tenant key pasted into the page: the chat example is a valid request and is billed.
await page.getByLabel('Bearer credential').fill(acme.key);
await page.getByLabel('Bearer credential').press('Tab');
await page.getByText(`Tenant Acme <b>${run}</b> · key first key`).waitFor();
const chatOp = operation('post-v1-chat-completions');
await chatOp.locator('summary').click();
assert.match(await chatOp.getByLabel('Request body (JSON)').inputValue(), /"messages"/);
assert.match(await chatOp.locator('.curl').innerText(), /^curl -sS -X POST '.*\/v1\/chat\/completions' -H "Authorization: Bearer \$TOLLGATE_KEY"/);
result = await tryOperation('post-v1-chat-completions');
await result.locator('.status', { hasText: '200' }).waitFor();
assert.match(await result.locator('.response-body').innerText(), /"chat.completion"/);
// The key's own tenant fills tenant_id; the balance shown is the API's.
const balanceOp = operation('get-api-v1-tenants-tenant-id-balance');
await balanceOp.locator('summary').click();
assert.equal(await balanceOp.getByLabel('tenant_id (path)').inputValue(), acme.id);
result = await tryOperation('get-api-v1-tenants-tenant-id-balance');
await result.locator('.status', { hasText: '200' }).waitFor();
assert.match(await result.locator('.response-body').innerText(), new RegExp(`"tenant_id": "${acme.id}"`));
await balanceOp.getByLabel('tenant_id (path)').fill(globex.id);
result = await tryOperation('get-api-v1-tenants-tenant-id-balance');
await result.locator('.status', { hasText: '404' }).waitFor();
// A streamed answer shows its events as they come, to the last one.
await chatOp.getByLabel('Request body (JSON)').fill(JSON.stringify({ model: 'demo-small', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'Stream to the reference page' }] }));
result = await tryOperation('post-v1-chat-completions');
await result.locator('.status-line', { hasText: ' ms' }).waitFor();
assert.match(await result.locator('.response-body').innerText(), /data: \[DONE\]/);
// A path value that would move the request to another route is refused; a 204 says so.
await balanceOp.getByLabel('tenant_id (path)').fill('..');
result = await tryOperation('get-api-v1-tenants-tenant-id-balance');
await result.getByRole('alert').filter({ hasText: 'tenant_id cannot be ".."' }).waitFor();
result = await tryOperation('delete-api-v1-tenants-tenant-id-cache');
await result.getByText('No content.').waitFor();
// A body that is not JSON is refused on the page, before anything is sent.
await chatOp.getByLabel('Request body (JSON)').fill('{"model": ');
result = await tryOperation('post-v1-chat-completions');
await result.getByRole('alert').filter({ hasText: 'not valid JSON' }).waitFor();
// The operator grants credit from the page: the example carries a fresh idempotency key, so a
// double click and a second send book it once.
await page.getByLabel('Bearer credential').fill(admin);
await page.getByLabel('Bearer credential').press('Tab');
await page.getByText('Operator (admin)').waitFor();
const grantOp = operation('post-api-v1-tenants-tenant-id-credits');
await grantOp.locator('summary').click();
await grantOp.getByLabel('tenant_id (path)').fill(globex.id);
assert.match(await grantOp.getByLabel('Request body (JSON)').inputValue(), /"idempotency_key": "docs-[0-9a-f]{32}"/);
const creditedBefore = Number((await balanceOf(globex.id)).credited_usd);
const sentBefore = grants.length;
await grantOp.getByRole('button', { name: 'Send request' }).dblclick();
await grantOp.locator('.result .status', { hasText: '201' }).waitFor();
assert.equal(grants.length, sentBefore + 1, 'a double click sends one request');
result = await tryOperation('post-api-v1-tenants-tenant-id-credits');
await result.locator('.status-line', { hasText: ' ms' }).waitFor();
assert.match(await result.locator('.status').innerText(), /^20[01]$/);
await eventually('the grant to be booked', async () => Number((await balanceOf(globex.id)).credited_usd) === creditedBefore + 25);
await page.waitForTimeout(1000);
assert.equal(Number((await balanceOf(globex.id)).credited_usd), creditedBefore + 25, 'credited once');
// The filter narrows the list; a link opens one operation.
await page.getByLabel('Filter operations').fill('auto-topup');
assert.equal(await page.locator('details.op:visible').count(), 3);
assert.equal(await page.locator('.tag-group:visible').count(), 1);
await page.goto(`${url}/docs/#delete-api-v1-keys-key-id`);
await operation('delete-api-v1-keys-key-id').getByRole('button', { name: 'Send request' }).waitFor();
await accessible('docs with an operation open');
await fitsPhone('API reference');

// 11. Weight: each page, with everything its HTML loads, under 150 kB gzipped.
const dist = join(import.meta.dirname, '..', 'dist');
const weight = (html) => {
  const text = readFileSync(join(dist, html), 'utf8');
  const assets = [...new Set(text.match(/\/console\/assets\/[^"']+/g) ?? [])];
  const files = [text, ...assets.map((a) => readFileSync(join(dist, a.slice('/console/'.length))))];
  return files.reduce((n, f) => n + gzipSync(f, { level: 9 }).length, 0) / 1024;
};
const consoleKb = weight('index.html');
const docsKb = weight('docs/index.html');
console.log(`browser: console page ${consoleKb.toFixed(1)} kB gzipped, API reference ${docsKb.toFixed(1)} kB gzipped`);
assert.ok(consoleKb < 150, `console ${consoleKb} kB`);
assert.ok(docsKb < 150, `API reference ${docsKb} kB`);

await browser.close();
const unexpected = problems.filter((p) => !expectedRefusals.some((r) => r.test(p)));
assert.deepEqual(unexpected, [], 'no console errors');
console.log('browser: all steps passed');
