import { connect, type Socket } from 'node:net';
import { LikeRepository, LikeService } from '@app/like';
import { createAccount } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { startApp, type TestApp } from '../helpers/test-app';
import { signal } from '../helpers/wait';
import { PROFILES } from '../helpers/test-env';
import { listen, SseClient } from './notification-sse';

/**
 * The api's close (`closeApp`: main.ts on SIGTERM/SIGINT, and this harness's `close()`): the
 * HTTP server drains first, and only then do the modules close (the password hasher's threads,
 * the connections). Nest's own order closed the modules first, so a login in flight at SIGTERM
 * answered 500 ("the password hasher is closed").
 */

/** A raw HTTP/1.1 exchange on its own socket: the request's body is sent in two parts. */
class SlowRequest {
  private reply = '';
  readonly ended: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (this.reply += chunk));
    this.ended = new Promise((resolve) => {
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
  }

  /** Connects and sends the headers and the first part of the body: the request is in flight. */
  static async start(port: number, path: string, body: string, firstPart: number): Promise<SlowRequest> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const r = new SlowRequest(socket);
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, firstPart)}`,
    );
    return r;
  }

  finish(rest: string): void {
    this.socket.write(rest);
  }

  /** The response once the socket closed: status, headers (lower-case), body; status 0 when none. */
  async response(): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    await this.ended;
    const [head, ...rest] = this.reply.split('\r\n\r\n');
    const [statusLine, ...lines] = head.split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
    const headers = Object.fromEntries(
      lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
    );
    return { status, headers, body: rest.join('\r\n\r\n') };
  }
}

let seq = 0;

/** A registered account: its credentials and a token. */
async function account(
  t: TestApp,
  prefix: string,
): Promise<{ username: string; password: string; token: string }> {
  const username = `${prefix}${Date.now().toString(36)}${seq++}`;
  const password = 'secret-password';
  await t.http.post('/account/register').send({ username, password }).expect(200);
  const res = await t.http.post('/account/login').send({ username, password }).expect(200);
  return { username, password, token: res.body.token as string };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether a new connection to `port` is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe.each(PROFILES)('api shutdown (%s)', (profile) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('a login in flight when the api closes is answered 200 with Connection: close; new connections are refused; then it closes', async () => {
    const app = await startApp(profile);
    t = app;
    const user = await account(app, 'drain');
    const port = await listen(app.app);
    const body = JSON.stringify({ username: user.username, password: user.password });
    const login = await SlowRequest.start(port, '/account/login', body, 10);
    await sleep(50); // the headers are in: the request is the server's
    const startedAt = Date.now();
    t = undefined; // closed here
    const closing = app.close();
    // Long enough for the modules' destroy hooks to have run, had they run first (they did).
    await sleep(300);
    expect(await accepts(port)).toBe(false);
    login.finish(body.slice(10));
    const res = await login.response();
    expect(res.status).toBe(200);
    expect(res.headers.connection).toBe('close');
    expect((JSON.parse(res.body) as { token?: string }).token).toEqual(expect.any(String));
    await closing;
    expect(Date.now() - startedAt).toBeLessThan(5000); // the drain ended with the request, not at SHUTDOWN_DRAIN
  });

  it('a like whose client went away is finished before the connections close', async () => {
    const app = await startApp(profile);
    t = app;
    const author = await createAccount(app, 'gonea');
    const fan = await account(app, 'gonef');
    const video = await publishVideo(app, author);
    const port = await listen(app.app);
    // The like's transaction is held open (its insert waits on a gate) while its client goes away
    // and the api closes.
    const likes = app.app.get(LikeRepository);
    const insert = likes.insertManyIfVideosExist.bind(likes);
    const gate = signal();
    const inside = signal();
    jest.spyOn(likes, 'insertManyIfVideosExist').mockImplementationOnce(async (...args) => {
      inside.fire();
      await gate.done;
      return insert(...args);
    });
    const service = app.app.get(LikeService);
    const like = jest.spyOn(service, 'like');
    const body = JSON.stringify({ video_id: video.id });
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /like/like HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Authorization: Bearer ${fan.token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await inside.done;
    socket.destroy(); // the client is gone; its handler still runs
    await sleep(50);
    t = undefined;
    const closing = app.close();
    // Long enough for the connections to have closed, had the close not waited for the handler.
    await sleep(500);
    gate.fire();
    await closing;
    // The like was written: its handler finished on open connections.
    expect(like).toHaveBeenCalledTimes(1);
    await expect(like.mock.results[0].value).resolves.toBeUndefined();
  });

  it('open notification streams end when the api closes and do not hold the close up', async () => {
    const app = await startApp(profile, { env: { SHUTDOWN_DRAIN: '20s' } });
    t = app;
    const user = await account(app, 'drainsse');
    const port = await listen(app.app);
    const stream = await SseClient.open(port, `/notification/stream?token=${user.token}`);
    expect(stream.status).toBe(200);
    const startedAt = Date.now();
    t = undefined;
    await app.close();
    expect(Date.now() - startedAt).toBeLessThan(5000);
    await stream.ended;
    expect(stream.closed).toBe(true);
  });

  it('a request still in flight after SHUTDOWN_DRAIN is cut, and the api closes', async () => {
    const app = await startApp(profile, { env: { SHUTDOWN_DRAIN: '1s' } });
    t = app;
    const user = await account(app, 'draincut');
    const port = await listen(app.app);
    const body = JSON.stringify({ username: user.username, password: user.password });
    const stuck = await SlowRequest.start(port, '/account/login', body, 10); // never finished
    await sleep(50);
    const startedAt = Date.now();
    t = undefined;
    await app.close();
    const took = Date.now() - startedAt;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(5000);
    expect((await stuck.response()).status).toBe(0); // cut, no response
  });
});
