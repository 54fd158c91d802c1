import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isUtf8 } from 'node:buffer';
import { PassThrough } from 'node:stream';
import { AuthService } from '@app/account';
import { APP_CONFIG, type AppConfig, Database, routingAccountId } from '@app/core';
import { isJsonContentType, jsonShapeProblem, mayPoisonPrototype } from './json-body';

/** Who may call a fast route: the same three modes as the Nest route's metadata (SPEC §2). */
export type FastAuth = 'public' | 'soft' | 'jwt';

/**
 * A read the api can answer around Nest's pipeline. `query` accepts only bodies the route's DTO
 * would accept unchanged (anything else: null, and Nest answers); `answer` calls the same service
 * method as the controller and returns the JSON text (or the value Nest would serialise), or
 * undefined to leave the request to Nest. Whatever `answer` throws also leaves it to Nest, which
 * runs every check again and answers the error with its usual bytes.
 */
export interface FastRoute<Q> {
  /** The route's path as registered (`/feed/listLatest`); only POST is served. */
  url: string;
  auth: FastAuth;
  query(body: Record<string, unknown>): Q | null;
  answer(
    q: Q,
    viewerId: number | undefined,
  ): string | object | undefined | Promise<string | object | undefined>;
}

/** Bodies above this go the normal way (a read's body is ~10–100 bytes). */
const FAST_BODY_MAX = 1024;
const JSON_TYPE = 'application/json; charset=utf-8';

/** A field a cursor/limit validator would accept unchanged: absent → 0, else a non-negative safe integer. */
export function uintField(v: unknown): number | null {
  if (v === undefined) return 0;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** Several {@link uintField}s of a body by name; null when any one is not taken. */
export function uintFields<K extends string>(
  b: Record<string, unknown>,
  names: readonly K[],
): Record<K, number> | null {
  const out = {} as Record<K, number>;
  for (const name of names) {
    const v = uintField(b[name]);
    if (v === null) return null;
    out[name] = v;
  }
  return out;
}

/** An `@IsEntityId()` field: a positive safe integer, else null. */
export function idField(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? v : null;
}

function authorization(req: FastifyRequest): string | undefined {
  const h: unknown = req.headers.authorization;
  if (Array.isArray(h)) return typeof h[0] === 'string' ? h[0] : undefined;
  return typeof h === 'string' ? h : undefined;
}

/**
 * The fast path for cacheable reads (issue 14): a `preParsing` hook recognises a registered route
 * with a small JSON body, reads the body itself, checks the caller with the guards' own
 * {@link AuthService} (`verifyHeader`: header, signature, expiry; then `current`: revocation via the
 * token cache, run alongside the service call, whose result is sent only once it has passed),
 * calls the service and sends the result. Every other case — a body the route's `query` does not
 * take as is, a missing or failing token, an error from the service — replays the bytes read to
 * Fastify's parser and Nest answers as if the hook were not there (middleware, guards, pipe,
 * filter: the same status, bytes and headers). Global Fastify hooks (request id, security
 * headers, metrics) run for both. Nothing here writes, so trying twice costs only time.
 *
 * `HTTP_FAST_READS=false` turns it off (every request through Nest); the e2e suites of the
 * feeds and of getDetail run both ways.
 */
@Injectable()
export class FastReads implements OnModuleInit {
  private readonly routes = new Map<string, FastRoute<unknown>>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly auth: AuthService,
    private readonly db: Database,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Called by the HTTP modules while they initialise (before the server listens). */
  add<Q>(route: FastRoute<Q>): void {
    this.routes.set(route.url, route);
  }

  get enabled(): boolean {
    return this.config.httpFastReads;
  }

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify || !this.enabled) return;
    fastify.addHook('preParsing', (request, reply, payload, done) => {
      const route = request.method === 'POST' ? this.routes.get(request.routeOptions.url ?? '') : undefined;
      const length = Number(request.headers['content-length']);
      if (
        route === undefined ||
        !(length > 0 && length <= FAST_BODY_MAX) ||
        !isJsonContentType(request.headers['content-type'])
      ) {
        done(null, payload);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      payload.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
      });
      payload.on('error', (err: Error) => done(err));
      payload.on('end', () => {
        const raw = Buffer.concat(chunks, size);
        const toNest = (): void => {
          const replay = new PassThrough();
          replay.end(raw);
          done(null, replay);
        };
        if (size !== length) return toNest();
        const q = parseQuery(route, raw);
        if (q === null) return toNest();
        const header = authorization(request);
        const anonymous = header === undefined || header.trim() === '';
        if (route.auth === 'jwt' && anonymous) return toNest();
        if (route.auth === 'public' || anonymous) {
          this.send(route, q, undefined, request, reply, toNest);
          return;
        }
        let claimed: ReturnType<AuthService['verifyHeader']>;
        try {
          claimed = this.auth.verifyHeader(header);
        } catch {
          return toNest();
        }
        // The revocation check (Redis, or the database) and the read run together: their Redis
        // commands leave in one write, and nothing is sent before the check has passed.
        const current = this.auth.current(claimed.account, claimed.token).then(
          () => true,
          () => false,
        );
        this.send(route, q, claimed.account.id, request, reply, toNest, current);
      });
    });
  }

  private send(
    route: FastRoute<unknown>,
    q: unknown,
    viewerId: number | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    toNest: () => void,
    current?: Promise<boolean>,
  ): void {
    const reply200 = (out: string | object | undefined): void => {
      if (out === undefined) return toNest();
      void reply
        .code(200)
        .header('content-type', JSON_TYPE)
        .send(typeof out === 'string' ? out : JSON.stringify(out));
    };
    let out: ReturnType<FastRoute<unknown>['answer']>;
    try {
      // With read replicas, the read session ReadSessionInterceptor gives a Nest request: the
      // caller's recent writes keep its reads on the primary. Reads never write, so it never ends dirty.
      out = this.db.reads.enabled
        ? this.db.reads.runSession(
            { accountId: viewerId ?? routingAccountId({ headers: request.headers }), wrote: false },
            () => route.answer(q, viewerId),
          )
        : route.answer(q, viewerId);
    } catch {
      // `current` never rejects: left to settle alone.
      return toNest();
    }
    if (current !== undefined) {
      // Not the viewer's current token (or the check failed): Nest runs the guard and answers its 401.
      Promise.all([Promise.resolve(out), current]).then(([o, ok]) => (ok ? reply200(o) : toNest()), toNest);
    } else if (out instanceof Promise) out.then(reply200, toNest);
    else reply200(out);
  }
}

/** The route's query from a raw body, or null (not JSON, not an object, or not taken as is). */
function parseQuery(route: FastRoute<unknown>, raw: Buffer): unknown {
  // Not UTF-8: its 400 comes from the JSON parser, as without this hook.
  if (!isUtf8(raw)) return null;
  const text = raw.toString('utf8');
  // Too deep or wide, or a key the parser refuses: its 400 comes from Fastify's parser, as without this hook.
  if (jsonShapeProblem(text) !== null || mayPoisonPrototype(text)) return null;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null; // malformed: fastify's parser answers its 400
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  return route.query(body as Record<string, unknown>);
}
