import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

// The SDK warns once per process that its 2027 releases will need Node 22: noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** s3rver's built-in account: it checks every request's signature against it. */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';
const BUCKET = 'fsv-media';

/** Runs s3rver (an S3-compatible server on the local file system) in its own process. */
const SERVER_SCRIPT = `
const S3rver = require(process.env.S3RVER_MODULE);
const [port, directory, bucket] = process.argv.slice(1);
new S3rver({ port: Number(port), address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] })
  .run()
  .then((addr) => process.send({ type: 'ready', port: addr.port }))
  .catch((err) => { console.error(err); process.exit(1); });
`;

/**
 * A private S3-compatible server for one suite: s3rver in a child process on a spare port of
 * 127.0.0.1, its objects in a temp directory, one bucket. `stop()` kills it (the api then sees
 * the store down: connections refused); `start()` brings it back on the same port with the
 * same objects. `dispose()` stops it and deletes everything.
 */
export interface S3TestServer {
  readonly bucket: string;
  readonly port: number;
  /** `STORAGE=s3` and the `S3_*` variables that point the api at this server. */
  readonly env: Record<string, string>;
  /** A client of its own, for assertions. */
  readonly client: S3Client;
  /** Every key under `prefix`, in key order. */
  keys(prefix?: string): Promise<string[]>;
  has(key: string): Promise<boolean>;
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startS3Server(): Promise<S3TestServer> {
  const directory = mkdtempSync(join(tmpdir(), 'fsv-s3-'));
  let proc: ChildProcess | null = null;
  let port = 0;
  let output = '';

  const launch = async (): Promise<void> => {
    // s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider.
    const args = ['--openssl-legacy-provider', '-e', SERVER_SCRIPT, String(port), directory, BUCKET];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, S3RVER_MODULE: require.resolve('s3rver') },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    try {
      port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`s3rver did not start in 20 s:\n${output}`)), 20_000);
        child.on('message', (m: { type?: string; port?: number }) => {
          if (m?.type !== 'ready' || typeof m.port !== 'number') return;
          clearTimeout(timer);
          resolve(m.port);
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`s3rver exited with ${code}:\n${output}`));
        });
      });
    } catch (err) {
      // Not started: leave no process (nor its IPC channel) behind.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (child.connected) child.disconnect();
      throw err;
    }
    child.disconnect();
    proc = child;
  };

  const kill = async (): Promise<void> => {
    const child = proc;
    proc = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  };

  await launch();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  return {
    bucket: BUCKET,
    port,
    env: {
      STORAGE: 's3',
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_BUCKET: BUCKET,
      S3_ACCESS_KEY_ID: ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
      S3_FORCE_PATH_STYLE: 'true',
    },
    client,
    keys: async (prefix = '') => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }),
        );
        keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
    has: async (key) => {
      try {
        await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
        return true;
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
          return false;
        throw err;
      }
    },
    stop: kill,
    start: async () => {
      if (proc) return;
      await launch();
    },
    dispose: async () => {
      await kill();
      client.destroy();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
