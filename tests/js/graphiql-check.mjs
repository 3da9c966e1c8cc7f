// Drives the embedded GraphiQL page in a real headless browser (Debian's
// chromium) with every request outside the server's origin blocked, types a
// token into the Headers tab and a query into the editor, runs it, and
// prints one JSON object:
//   {"result": <the response pane's JSON>, "outside": [urls the page tried],
//    "problems": [uncaught page errors, Content-Security-Policy violations],
//    "stored": whether the token is in localStorage or sessionStorage,
//    "kept": whether the page, reloaded, still shows the token}
// Usage: node graphiql-check.mjs <server base url> <bearer token> <query>
import { chromium } from 'playwright-core';

const [base, token, query] = process.argv.slice(2);
if (!base || !token || !query) {
  console.error('usage: node graphiql-check.mjs <base url> <token> <query>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  const context = await browser.newContext();
  const origin = new URL(base).origin;
  const outside = [];
  // The intranet without internet: anything not from this server fails.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`)) {
      return route.continue();
    }
    outside.push(url);
    return route.abort('internetdisconnected');
  });
  const page = await context.newPage();
  const problems = [];
  // A 401 of the schema fetch before the token is typed is expected: only
  // script failures and what the policy refused count.
  page.on('console', (message) => {
    const text = message.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.push(text);
  });
  page.on('pageerror', (error) => problems.push(String(error)));

  await page.goto(`${base}/graphql`, { waitUntil: 'load' });
  const headers = page.locator('.graphiql-editor-tool .CodeMirror >> visible=true');
  await headers.waitFor({ timeout: 15000 });
  await headers.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type(`{"Authorization": "Bearer ${token}"}`);

  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type(query);
  await page.keyboard.press('Escape'); // closes an autocomplete hint, if any
  await page.locator('.graphiql-execute-button').click();

  const response = page.locator('.result-window .CodeMirror');
  await page.waitForFunction(
    () => {
      const pane = document.querySelector('.result-window .CodeMirror');
      return pane && pane.CodeMirror && pane.CodeMirror.getValue().trim().startsWith('{');
    },
    null,
    { timeout: 15000 }
  );
  const text = await response.evaluate((pane) => pane.CodeMirror.getValue());
  const typed = await editor.evaluate((pane) => pane.CodeMirror.getValue());
  // Whether the token was written anywhere that outlives the tab.
  const stored = await page.evaluate(
    (secret) => [localStorage, sessionStorage].some((area) =>
      Object.keys(area).some((key) => String(area.getItem(key)).includes(secret))),
    token
  );
  await page.reload({ waitUntil: 'load' });
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 15000 });
  const kept = (await page.content()).includes(token);
  console.log(JSON.stringify({ result: JSON.parse(text), typed, outside, problems, stored, kept }));
} finally {
  await browser.close();
}
