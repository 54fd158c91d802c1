#!/usr/bin/env node
/**
 * Browser test: drives Debian's Chromium (playwright-core) against the api serving the built client.
 *
 * Expects `dist/` to be built (`npm run build`). Starts `node dist/apps/api/src/main.js` on a free port
 * with a fresh temporary DATA_DIR, the embedded profile and RATE_LIMITS=off, then walks the flow:
 * register → log in → upload a video over three 5 MiB parts (SPEC §8.1 chunked upload) and a cover →
 * publish with a #tag → first in latest → like → comment → a second user follows → following tab →
 * the bell rings live when the second user likes the video (notifications screen, mark all read) →
 * an upload that loses its connection and goes on → an upload cut mid-way, resumed after a reload →
 * direct messages both ways (unread badge, read receipt, paging older messages) → a #tag opens its
 * feed → rename → logout. Screenshots: test-artifacts/screenshots/.
 *
 * BROWSER_TEST_DIST=/some/dir uses the api and client built there (`<dir>/apps/api/src/main.js`,
 * `<dir>/web/index.html`) instead of `dist/`, e.g. a build made for this test alone.
 * BROWSER_TEST_BASE_URL=http://host:port runs against an already running server instead.
 * The last line printed is always `N passed, M failed`; the exit code is non-zero on any failure.
 */
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots');
/**
 * The browser: `CHROMIUM_PATH`, else an installed Chromium (Debian's first), else the installed
 * Google Chrome that playwright-core's `chrome` channel finds (macOS, Windows). Never a download.
 */
const CHROMIUM =
  process.env.CHROMIUM_PATH ||
  [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
  ].find((p) => fs.existsSync(p));
const STEP_TIMEOUT = 20_000;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForHealth(base, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`api exited early with code ${child.exitCode}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await sleep(250);
  }
  throw new Error(`api did not become healthy within ${timeoutMs} ms`);
}

/** Starts the built api on a free port with its own data directory; resolves to {base, stop}. */
async function startApi() {
  if (process.env.BROWSER_TEST_BASE_URL) {
    return {
      base: process.env.BROWSER_TEST_BASE_URL.replace(/\/$/, ''),
      stop: async () => undefined,
      logs: () => '',
    };
  }
  const dist = path.resolve(process.env.BROWSER_TEST_DIST || path.join(ROOT, 'dist'));
  const main = path.join(dist, 'apps', 'api', 'src', 'main.js');
  const index = path.join(dist, 'web', 'index.html');
  for (const f of [main, index]) {
    if (!fs.existsSync(f))
      throw new Error(`${path.relative(ROOT, f)} is missing: run \`npm run build\` first`);
  }
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fsv-browser-'));
  const env = { ...process.env, PORT: String(port), DATA_DIR: dataDir, RATE_LIMITS: 'off', NODE_ENV: 'test' };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'AMQP_URL', 'PUBLIC_BASE_URL', 'JWT_SECRET']) delete env[k];
  // A build outside the repository still loads its packages from the repository's node_modules.
  env.NODE_PATH = [path.join(ROOT, 'node_modules'), process.env.NODE_PATH]
    .filter(Boolean)
    .join(path.delimiter);
  const child = spawn(process.execPath, [main], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForHealth(base, child, 30_000);
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- api output ---\n${output}`);
  }
  return { base, stop, logs: () => output };
}

/** Polls until `read()` satisfies `ok`, else throws with the last value seen. */
async function until(what, read, ok, timeoutMs = STEP_TIMEOUT) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (e) {
      last = `(error: ${e.message.split('\n')[0]})`;
    }
    if (Date.now() > deadline) throw new Error(`${what}: last seen ${JSON.stringify(last)}`);
    await sleep(150);
  }
}

const text = (locator) =>
  locator
    .first()
    .innerText({ timeout: 2000 })
    .then((t) => t.trim());

async function expectText(what, locator, expected, timeoutMs) {
  const match = typeof expected === 'function' ? expected : (t) => t === expected;
  return until(what, () => text(locator), match, timeoutMs);
}

/** Feeds may be cached for a few seconds (SPEC §5): reload, like a user pulling to refresh, until it shows. */
async function firstFeedTitle(page, path, expected) {
  const deadline = Date.now() + STEP_TIMEOUT;
  for (;;) {
    await page.goto(path);
    const title = page.getByTestId('feed-item').first().getByTestId('feed-title');
    const seen = await title.innerText({ timeout: 3000 }).then(
      (t) => t.trim(),
      () => null,
    );
    if (seen === expected) return;
    if (Date.now() > deadline)
      throw new Error(
        `first item in ${path}: expected ${JSON.stringify(expected)}, saw ${JSON.stringify(seen)}`,
      );
    await sleep(1000);
  }
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await sleep(250); // let transitions settle
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** A short real WebM made in the page itself: a canvas animation recorded with MediaRecorder. */
async function recordWebm(page) {
  const dataUrl = await page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 360;
    canvas.height = 640;
    const ctx = canvas.getContext('2d');
    let frame = 0;
    const draw = () => {
      const g = ctx.createLinearGradient(0, 0, 360, 640);
      g.addColorStop(0, `hsl(${(frame * 4) % 360} 80% 55%)`);
      g.addColorStop(1, `hsl(${(frame * 4 + 120) % 360} 80% 35%)`);
      ctx.fillStyle = g;
      ctx.fillRect(0, 0, 360, 640);
      ctx.fillStyle = '#fff';
      ctx.font = 'bold 44px sans-serif';
      ctx.fillText('browser test', 40, 300);
      ctx.beginPath();
      ctx.arc(180 + 120 * Math.sin(frame / 6), 420, 40, 0, Math.PI * 2);
      ctx.fill();
      frame++;
    };
    draw();
    const stream = canvas.captureStream(25);
    const type = MediaRecorder.isTypeSupported('video/webm;codecs=vp8')
      ? 'video/webm;codecs=vp8'
      : 'video/webm';
    const rec = new MediaRecorder(stream, { mimeType: type, videoBitsPerSecond: 400_000 });
    const chunks = [];
    rec.ondataavailable = (e) => e.data.size && chunks.push(e.data);
    const timer = setInterval(draw, 40);
    rec.start(200);
    await new Promise((r) => setTimeout(r, 1600));
    const stopped = new Promise((r) => (rec.onstop = r));
    rec.stop();
    await stopped;
    clearInterval(timer);
    const blob = new Blob(chunks, { type: 'video/webm' });
    return new Promise((resolve, reject) => {
      const fr = new FileReader();
      fr.onload = () => resolve(fr.result);
      fr.onerror = () => reject(fr.error);
      fr.readAsDataURL(blob);
    });
  });
  const buffer = Buffer.from(String(dataUrl).split(',')[1], 'base64');
  if (buffer.length < 1000 || buffer.readUInt32BE(0) !== 0x1a45dfa3)
    throw new Error('MediaRecorder made no WebM');
  return buffer;
}

const MiB = 1024 * 1024;
/** The client's part size (SPEC §8.1: it sends 5 MiB parts). */
const PART = 5 * MiB;

/**
 * A real recorded WebM grown to `size` bytes with an EBML Void element (ID 0xEC, which every
 * Matroska/WebM reader skips) after its last cluster: still a valid WebM that sniffs and plays as
 * one, but large enough to need several 5 MiB parts. `seed` varies the padding so that each file
 * has its own MD5.
 */
function padWebm(webm, size, seed) {
  const payload = size - webm.length - 9;
  if (payload < 0) throw new Error('padWebm: target smaller than the recording');
  const head = Buffer.alloc(9);
  head[0] = 0xec; // Void
  head[1] = 0x01; // an 8-byte size: 0x01 then 7 bytes
  head.writeUIntBE(payload, 3, 6);
  const body = Buffer.alloc(payload, seed & 0xff);
  return Buffer.concat([webm, head, body]);
}

/** Counts the chunk-upload requests a page makes, and keeps the last `init` answer. */
function watchChunks(page) {
  const seen = { init: [], partsOk: 0, partsFailed: 0, complete: 0 };
  page.on('response', async (res) => {
    const url = res.url();
    if (url.endsWith('/api/video/chunk/init') && res.status() === 200) {
      seen.init.push(await res.json().catch(() => null));
    } else if (url.endsWith('/api/video/chunk/upload')) {
      if (res.status() === 200) seen.partsOk++;
      else seen.partsFailed++;
    } else if (url.endsWith('/api/video/chunk/complete') && res.status() === 200) {
      seen.complete++;
    }
  });
  page.on('requestfailed', (req) => {
    if (req.url().endsWith('/api/video/chunk/upload')) seen.partsFailed++;
  });
  return seen;
}

const uploadStatus = (page) => page.getByTestId('video-progress').getAttribute('data-status');

async function uploadDone(page, what) {
  await until(
    what,
    () => uploadStatus(page),
    (s) => s === 'done',
    60_000,
  ).catch(async (e) => {
    const err = (await page.getByTestId('video-error').count())
      ? await text(page.getByTestId('video-error'))
      : '';
    throw new Error(`${e.message} ${err}`);
  });
}

async function main() {
  const results = [];
  let failedAlready = false;
  let api;
  let browser;
  const ctx = {};

  async function step(name, fn) {
    if (failedAlready) {
      results.push({ name, ok: false, note: 'skipped after an earlier failure' });
      console.log(`  - ${name} (skipped)`);
      return;
    }
    const started = Date.now();
    try {
      await fn();
      results.push({ name, ok: true });
      console.log(`  ✓ ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      failedAlready = true;
      results.push({ name, ok: false, note: e.message });
      console.log(`  ✗ ${name}\n      ${String(e.message).split('\n').join('\n      ')}`);
      for (const [label, page] of [
        ['a', ctx.pageA],
        ['b', ctx.pageB],
      ]) {
        if (page && !page.isClosed()) await shot(page, `failure-${label}`).catch(() => undefined);
      }
    }
  }

  try {
    if (process.env.CHROMIUM_PATH && !fs.existsSync(CHROMIUM))
      throw new Error(`CHROMIUM_PATH ${CHROMIUM} is missing`);
    if (!CHROMIUM && process.platform === 'linux')
      throw new Error('no Chromium: apt-get install -y chromium');
    fs.rmSync(SHOTS, { recursive: true, force: true });
    api = await startApi();
    console.log(`api at ${api.base}`);
    browser = await chromium.launch({
      ...(CHROMIUM ? { executablePath: CHROMIUM } : { channel: 'chrome' }),
      args: CHROMIUM_ARGS,
      headless: true,
    });

    const run = Date.now().toString(36).slice(-5);
    const userA = `alice_${run}`;
    const userB = `bob_${run}`;
    const renamed = `alice.renamed_${run}`;
    const password = 'correct horse 1';
    const title = `Sunset test ${run}`;
    const tag = `golden_${run}`;
    const comment = `Lovely colours! ${run}`;
    ctx.hello = `Hi! Loved the sunset ${run}`;
    ctx.reply = `Thanks, glad you did ${run}`;

    const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: api.base });
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      baseURL: api.base,
    });
    const a = (ctx.pageA = await desktop.newPage());
    const pageErrors = [];
    // The api serves the client under a strict Content-Security-Policy: any violation is a failure.
    const watchErrors = (page) => {
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
      });
    };
    watchErrors(a);
    const workers = [];
    a.on('worker', (w) => workers.push(w.url()));

    await step('the feed loads for a visitor', async () => {
      await a.goto('/');
      await a.getByTestId('feed-list').waitFor();
      await until(
        'feed shows items or its empty state',
        async () => (await a.getByTestId('state-empty').count()) + (await a.getByTestId('feed-item').count()),
        (n) => n > 0,
      );
      await shot(a, '01-feed-visitor');
    });

    await step('register the first user', async () => {
      await a.getByTestId('nav-register').click();
      await a.getByTestId('register-username').fill(userA);
      await a.getByTestId('register-password').fill(password);
      await a.getByTestId('register-confirm').fill(password);
      await shot(a, '02-register');
      await a.getByTestId('register-submit').click();
      await a.waitForURL(/\/login/);
      await expectText('notice after registering', a.getByTestId('login-notice'), (t) => /created/i.test(t));
    });

    await step('log in', async () => {
      await until(
        'username prefilled',
        () => a.getByTestId('login-username').inputValue(),
        (v) => v === userA,
      );
      await a.getByTestId('login-password').fill(password);
      await shot(a, '03-login');
      await a.getByTestId('login-submit').click();
      await a.waitForURL((u) => u.pathname === '/');
      await expectText('the header shows who is logged in', a.getByTestId('nav-username'), userA);
    });

    await step('upload a video over three chunked parts, and a cover, with byte progress', async () => {
      await a.getByTestId('nav-publish').click();
      await a.waitForURL(/\/publish/);
      ctx.webm = await recordWebm(a);
      ctx.files = fs.mkdtempSync(path.join(os.tmpdir(), 'fsv-browser-files-'));
      const big = padWebm(ctx.webm, 2 * PART + 1.5 * MiB, 1);
      const file = path.join(ctx.files, 'sunset.webm');
      fs.writeFileSync(file, big);
      const chunks = watchChunks(a);
      await a.getByTestId('video-input').setInputFiles(file);
      await uploadDone(a, 'video upload finishes');
      if (!workers.some((u) => /md5\.worker/.test(u)))
        throw new Error(`the file was not hashed in a worker (workers: ${JSON.stringify(workers)})`);
      if (chunks.partsOk !== 3 || chunks.complete !== 1 || chunks.init.length !== 1)
        throw new Error(`expected 1 init, 3 parts and 1 complete, saw ${JSON.stringify(chunks)}`);
      const bar = a.getByTestId('video-progress');
      const [loaded, total] = [await bar.getAttribute('data-loaded'), await bar.getAttribute('data-total')];
      if (Number(loaded) !== big.length || Number(total) !== big.length)
        throw new Error(`progress counts ${loaded} of ${total} bytes, the file has ${big.length}`);
      await expectText('the bar says how much', bar.locator('.progress-detail'), '11.5 MiB');
      await a.waitForFunction(() => {
        const v = document.querySelector('[data-testid="video-preview"]');
        return v instanceof HTMLVideoElement && v.readyState >= 2 && v.videoWidth > 0;
      });
      await a.getByTestId('cover-from-frame').click();
      await until(
        'cover upload finishes',
        () => a.getByTestId('cover-progress').getAttribute('data-status'),
        (s) => s === 'done',
      ).catch(async (e) => {
        const err = (await a.getByTestId('cover-error').count())
          ? await text(a.getByTestId('cover-error'))
          : '';
        throw new Error(`${e.message} ${err}`);
      });
      await a.getByTestId('cover-preview').waitFor();
    });

    await step('publish the video', async () => {
      await a.getByTestId('title-input').fill(title);
      await a
        .getByTestId('description-input')
        .fill(`Made by the browser test with MediaRecorder. #${tag} #BrowserTest`);
      await shot(a, '04-publish-ready');
      await a.getByTestId('publish-submit').click();
      await a.waitForURL(/\/v\/\d+$/);
      ctx.videoId = Number(new URL(a.url()).pathname.split('/').pop());
      await expectText('the video page shows the title', a.getByTestId('video-title'), title);
      await expectText('the video page shows the author', a.getByTestId('video-author'), userA);
      await until(
        'the assembled video plays',
        () =>
          a.getByTestId('video-player').evaluate((v) => v.readyState >= 2 && v.videoWidth > 0 && !v.error),
        Boolean,
      );
      await shot(a, '05-video-page');
    });

    await step('it appears first in the latest tab', async () => {
      await firstFeedTitle(a, '/?tab=latest', title);
      const first = a.getByTestId('feed-item').first();
      ctx.authorId = Number((await first.getByTestId('feed-author').getAttribute('href')).split('/').pop());
      await until(
        'the player starts (muted autoplay)',
        () => first.locator('video').evaluate((v) => !v.paused && v.muted),
        Boolean,
      );
      await shot(a, '06-feed-latest');
    });

    await step('like it: the count changes at once and sticks', async () => {
      const first = a.getByTestId('feed-item').first();
      await expectText('likes before', first.getByTestId('like-count'), '0');
      await first.getByTestId('like-button').click();
      await expectText('likes after', first.getByTestId('like-count'), '1');
      await until(
        'heart pressed',
        () => first.getByTestId('like-button').getAttribute('aria-pressed'),
        (v) => v === 'true',
      );
      await shot(a, '07-liked');
      // is_liked is read-your-writes; a cached feed page may show the old count for a few seconds (SPEC §5, §7.5).
      await until(
        'liked and counted after reloading',
        async () => {
          await a.reload();
          const again = a.getByTestId('feed-item').first();
          return [
            await again.getByTestId('like-button').getAttribute('aria-pressed'),
            await text(again.getByTestId('like-count')),
          ];
        },
        ([pressed, count]) => pressed === 'true' && count === '1',
      );
    });

    await step('comment on it', async () => {
      const first = a.getByTestId('feed-item').first();
      await first.getByTestId('comments-button').click();
      const drawer = a.getByTestId('comment-drawer');
      await drawer.waitFor();
      await drawer.getByTestId('state-empty').waitFor();
      await drawer.getByTestId('comment-input').fill(comment);
      await drawer.getByTestId('comment-submit').click();
      await expectText('the new comment shows', drawer.getByTestId('comment-text'), comment);
      await shot(a, '08-comment-drawer');
      await a.keyboard.press('Escape');
      await drawer.waitFor({ state: 'detached' });
      await expectText('comment count on the item', first.getByTestId('comment-count'), '1');
      await a.goto(`/v/${ctx.videoId}`);
      await expectText('the comment is on the video page', a.getByTestId('comment-text'), comment);
    });

    await step('a second user (on a phone) registers, logs in and follows the first', async () => {
      const b = (ctx.pageB = await phone.newPage());
      watchErrors(b);
      await b.goto('/register');
      await b.getByTestId('register-username').fill(userB);
      await b.getByTestId('register-password').fill(password);
      await b.getByTestId('register-confirm').fill(password);
      await b.getByTestId('register-submit').click();
      await b.waitForURL(/\/login/);
      await b.getByTestId('login-password').fill(password);
      await b.getByTestId('login-submit').click();
      await b.waitForURL((u) => u.pathname === '/');
      await expectText(
        'first item on the phone',
        b.getByTestId('feed-item').first().getByTestId('feed-title'),
        title,
      );
      await shot(b, '09-phone-feed');
      await b.getByTestId('feed-item').first().getByTestId('feed-author').click();
      await b.waitForURL(new RegExp(`/u/${ctx.authorId}$`));
      await expectText('profile name', b.getByTestId('profile-username'), userA);
      await expectText('followers before', b.getByTestId('count-followers'), '0');
      const follow = b.locator('.profile-actions').getByTestId('follow-button');
      await expectText('follow button', follow, 'Follow');
      await follow.click();
      await expectText('follow button after click', follow, 'Following');
      await expectText('followers after', b.getByTestId('count-followers'), '1');
      await b.getByTestId('profile-video').first().waitFor();
      await shot(b, '10-phone-profile-followed');
      await b.reload();
      await expectText(
        'still following after reload',
        b.locator('.profile-actions').getByTestId('follow-button'),
        'Following',
      );
      await expectText('followers after reload', b.getByTestId('count-followers'), '1');
    });

    await step("the video is in the second user's following tab", async () => {
      const b = ctx.pageB;
      await b.goto('/');
      await b.getByTestId('tab-following').click();
      await until(
        'following tab selected',
        () => b.getByTestId('feed-list').getAttribute('data-tab'),
        (t) => t === 'following',
      );
      await expectText(
        'first item in following',
        b.getByTestId('feed-item').first().getByTestId('feed-title'),
        title,
      );
      await shot(b, '11-phone-following');
    });

    await step('the bell badge updates live when another user likes your video', async () => {
      const b = ctx.pageB;
      // The first user stays on the video page, no reload: the follow has already rung the bell.
      await expectText('the bell counts the follow', a.getByTestId('nav-bell-unread'), '1', 10_000);
      await b.goto(`/v/${ctx.videoId}`);
      await b.getByTestId('like-button').first().click();
      await until(
        'the phone shows its like',
        () => b.getByTestId('like-button').first().getAttribute('aria-pressed'),
        (v) => v === 'true',
      );
      await expectText(
        'the bell counts the like without a reload',
        a.getByTestId('nav-bell-unread'),
        '2',
        5_000,
      );
      await shot(a, '14-bell-live');
      await a.getByTestId('nav-bell').click();
      await a.waitForURL(/\/notifications$/);
      const items = a.getByTestId('notification-item');
      await until(
        'the like and the follow are listed, newest first',
        async () => [await items.count(), await items.first().getAttribute('data-type')],
        ([n, type]) => n === 2 && type === 'like',
      );
      await expectText('who liked it', items.first().getByTestId('notification-actor'), userB);
      await shot(a, '15-notifications');
      await a.getByTestId('notifications-mark-all').click();
      await until(
        'the badge goes away once all are read',
        () => a.getByTestId('nav-bell-unread').count(),
        (n) => n === 0,
      );
      await until(
        'every item shows as read',
        () => a.locator('[data-testid="notification-item"][data-read="false"]').count(),
        (n) => n === 0,
      );
    });

    await step('an upload that loses its connection waits for it, then goes on', async () => {
      await a.goto('/publish');
      const file = path.join(ctx.files, 'offline.webm');
      fs.writeFileSync(file, padWebm(ctx.webm, 3 * PART + MiB, 2));
      const chunks = watchChunks(a);
      // Parts take a moment each, so the connection drops while some are in flight.
      const slow = async (route) => {
        await sleep(400);
        await route.continue().catch(() => undefined);
      };
      await a.route('**/api/video/chunk/upload', slow);
      await a.getByTestId('video-input').setInputFiles(file);
      await until(
        'a first part is stored',
        async () => chunks.partsOk,
        (n) => n >= 1,
      );
      await desktop.setOffline(true);
      await until(
        'the upload says it waits for the connection',
        () => a.getByTestId('video-progress').getAttribute('data-phase'),
        (p) => p === 'waiting',
      );
      await shot(a, '20-upload-offline');
      await sleep(1500);
      await desktop.setOffline(false);
      await uploadDone(a, 'the upload finishes once back online');
      await a.unroute('**/api/video/chunk/upload', slow);
      if (chunks.complete !== 1) throw new Error(`expected one complete, saw ${JSON.stringify(chunks)}`);
    });

    await step('an upload cut mid-way resumes after a reload, skipping the stored parts', async () => {
      await a.goto('/publish');
      const file = path.join(ctx.files, 'resume.webm');
      const size = 3 * PART + 2 * MiB;
      fs.writeFileSync(file, padWebm(ctx.webm, size, 3));
      const first = watchChunks(a);
      let allowed = 2;
      const cut = (route) => (allowed-- > 0 ? route.continue() : route.abort('connectionreset'));
      await a.route('**/api/video/chunk/upload', cut);
      await a.getByTestId('video-input').setInputFiles(file);
      await until(
        'two parts stored, the others cut',
        async () => [first.partsOk, first.partsFailed],
        ([ok, failed]) => ok === 2 && failed >= 2,
      );
      await shot(a, '21-upload-cut');
      // Reload while the connection is still cut: the page's retries die with it.
      await a.reload();
      await a.unroute('**/api/video/chunk/upload', cut);
      await expectText('the unfinished upload is offered', a.getByTestId('pending-upload'), (t) =>
        t.includes('resume.webm'),
      );
      await shot(a, '22-upload-pending');
      const second = watchChunks(a);
      await a.getByTestId('video-input').setInputFiles(file);
      await uploadDone(a, 'the resumed upload finishes');
      const stored = second.init[0] && second.init[0].uploaded_chunks;
      if (!Array.isArray(stored) || stored.length !== 2)
        throw new Error(`init should have returned the 2 stored parts, got ${JSON.stringify(second.init)}`);
      if (second.partsOk !== 2)
        throw new Error(`expected only the 2 missing parts, ${second.partsOk} were sent`);
      await expectText(
        'the resume is told',
        a.getByTestId('video-note'),
        'Resumed: 2 of 4 parts were already uploaded',
      );
      const bar = a.getByTestId('video-progress');
      if (Number(await bar.getAttribute('data-loaded')) !== size)
        throw new Error('progress did not reach the size');
      await shot(a, '23-upload-resumed');
    });

    await step('a direct message reaches the other user without a reload, with an unread badge', async () => {
      const b = ctx.pageB;
      await a.goto('/');
      await b.goto(`/u/${ctx.authorId}`);
      await b.getByTestId('message-button').click();
      await b.waitForURL(new RegExp(`/messages/${ctx.authorId}$`));
      await expectText('chat header', b.getByTestId('chat-peer'), userA);
      await b.getByTestId('state-empty').waitFor();
      await b.getByTestId('chat-input').fill(ctx.hello);
      await b.getByTestId('chat-send').click();
      await expectText('the sent message shows', b.getByTestId('chat-message-text').last(), ctx.hello);
      // The first user sits on the feed: the nav's unread count appears by itself.
      await expectText('unread badge in the nav', a.getByTestId('nav-unread'), '1', 25_000);
      await shot(a, '24-nav-unread');
      await a.getByTestId('nav-messages').click();
      await a.waitForURL(/\/messages$/);
      const convo = a.getByTestId('conversation-item').first();
      await expectText('conversation with the second user', convo.getByTestId('conversation-name'), userB);
      await expectText('its unread count', convo.getByTestId('conversation-unread'), '1');
      await expectText('its last message', convo.getByTestId('conversation-preview'), ctx.hello);
      await shot(a, '25-conversations');
      await convo.click();
      await a.waitForURL(/\/messages\/\d+$/);
      ctx.userBId = Number(new URL(a.url()).pathname.split('/').pop());
      await expectText('the message in the chat', a.getByTestId('chat-message-text').last(), ctx.hello);
      await until(
        'the unread badge goes away',
        () => a.getByTestId('nav-unread').count(),
        (n) => n === 0,
      );
      await expectText('the sender sees it was read', b.getByTestId('chat-seen'), 'Seen');
      await a.getByTestId('chat-input').fill(ctx.reply);
      await a.getByTestId('chat-input').press('Enter');
      await expectText(
        'the reply shows for its sender',
        a.getByTestId('chat-message-text').last(),
        ctx.reply,
      );
      await expectText(
        'the reply arrives without a reload',
        b.getByTestId('chat-message-text').last(),
        ctx.reply,
      );
      await shot(a, '26-chat-desktop');
      await shot(b, '27-chat-phone');
    });

    await step('older messages page in when scrolling up', async () => {
      const b = ctx.pageB;
      // A burst from the second user's other device: 40 messages straight to the api.
      const sent = await b.evaluate(
        async ({ to, n }) => {
          const token = localStorage.getItem('fsv.token');
          for (let i = 1; i <= n; i++) {
            const res = await fetch('/api/message/send', {
              method: 'POST',
              headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
              body: JSON.stringify({ to_id: to, content: `burst ${i}` }),
            });
            if (res.status !== 200) return `message ${i}: ${res.status}`;
          }
          return 'ok';
        },
        { to: ctx.authorId, n: 40 },
      );
      if (sent !== 'ok') throw new Error(sent);
      await expectText('the burst arrives by polling', a.getByTestId('chat-message-text').last(), 'burst 40');
      await a.reload();
      await expectText(
        'after a reload the newest is there',
        a.getByTestId('chat-message-text').last(),
        'burst 40',
      );
      const shown = await a.getByTestId('chat-message').count();
      if (shown >= 42) throw new Error(`expected one page (30), saw ${shown}`);
      await until(
        'scrolling up loads the older ones',
        async () => {
          await a.getByTestId('chat-messages').evaluate((el) => (el.scrollTop = 0));
          return a.getByTestId('chat-message').count();
        },
        (n) => n === 42,
      );
      await expectText(
        'the first message is the oldest',
        a.getByTestId('chat-message-text').first(),
        ctx.hello,
      );
    });

    await step('a #tag in a description opens its feed', async () => {
      await a.goto(`/v/${ctx.videoId}`);
      const link = a.getByTestId('video-description').getByTestId('tag-link').first();
      await expectText('the tag is a link', link, `#${tag}`);
      await link.click();
      await a.waitForURL(new RegExp(`/tag/${tag}$`));
      await expectText('the tag page', a.getByTestId('tag-title'), `#${tag}`);
      await expectText('it lists the video', a.getByTestId('tag-video-title').first(), title);
      await shot(a, '28-tag-desktop');
      const b = ctx.pageB;
      await b.goto('/?tab=latest');
      const item = b.locator(`[data-testid="feed-item"][data-video-id="${ctx.videoId}"]`);
      await item.getByTestId('feed-description').getByTestId('tag-link').first().click();
      await b.waitForURL(new RegExp(`/tag/${tag}$`));
      await expectText('the tag page on the phone', b.getByTestId('tag-video-title').first(), title);
      await shot(b, '29-tag-phone');
    });

    await step('rename the first user', async () => {
      await a.getByTestId('nav-settings').click();
      await a.waitForURL(/\/settings/);
      await a.getByTestId('rename-input').fill(renamed);
      await a.getByTestId('rename-submit').click();
      await expectText('header shows the new name', a.getByTestId('nav-username'), renamed);
      await expectText('settings shows the new name', a.getByTestId('settings-username'), renamed);
      await shot(a, '12-settings-renamed');
      await a.goto(`/v/${ctx.videoId}`);
      await expectText('the video shows the new name', a.getByTestId('video-author'), renamed);
    });

    await step('log out', async () => {
      await a.goto('/settings');
      await a.getByTestId('logout-button').click();
      await a.waitForURL(/\/login/);
      await a.getByTestId('nav-login').waitFor();
      await shot(a, '13-logged-out');
      await a.goto('/publish');
      await a.waitForURL(/\/login\?next=/);
    });

    await step('no uncaught errors or CSP violations in the pages', async () => {
      if (pageErrors.length) throw new Error(pageErrors.join('\n'));
    });
  } catch (e) {
    results.push({ name: 'setup', ok: false, note: e.message });
    console.log(`  ✗ setup\n      ${e.message}`);
  } finally {
    await browser?.close().catch(() => undefined);
    if (results.some((r) => !r.ok) && api?.logs()) {
      console.log('--- api output (tail) ---');
      console.log(api.logs().split('\n').slice(-40).join('\n'));
    }
    await api?.stop().catch(() => undefined);
    if (ctx.files) fs.rmSync(ctx.files, { recursive: true, force: true });
  }

  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`screenshots: ${path.relative(ROOT, SHOTS)}/`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
