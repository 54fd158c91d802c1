import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BlockList, isIP, type Socket } from 'node:net';
import type { Server } from 'node:http';
import type { HttpLimits } from '@app/core';
import { hasJsonDeadline } from './json-body';

/** Route config key: a route's own body deadline in ms (else one of {@link HttpLimits}'s). */
export const BODY_TIMEOUT = 'bodyTimeoutMs';

const TIMEOUT_BODY = JSON.stringify({ error: 'request timeout', code: 'REQUEST_TIMEOUT' });

/** The raw answer for a client that stalls before its request is read (Node's own 408, SPEC's body). */
export function rawTimeoutResponse(): string {
  return (
    'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n' +
    `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(TIMEOUT_BODY)}\r\n\r\n` +
    TIMEOUT_BODY
  );
}

function hasBody(req: FastifyRequest): boolean {
  const h = req.raw.headers;
  return h['transfer-encoding'] !== undefined || Number(h['content-length'] ?? 0) > 0;
}

/** SPEC §1: request headers over 16 KiB are a 431 (Node's `maxHeaderSize` is the same figure). */
export const MAX_HEADER_BYTES = 16 * 1024;

const HEADERS_TOO_LARGE_MESSAGE = 'request headers are too large';
const HEADERS_TOO_LARGE = JSON.stringify({ error: HEADERS_TOO_LARGE_MESSAGE, code: 'PAYLOAD_TOO_LARGE' });

/** The fewest bytes a header line takes (`a:\r\n`): a block of this many lines is over the limit. */
const MIN_LINE_BYTES = 4;
const MAX_LINES = MAX_HEADER_BYTES / MIN_LINE_BYTES;

/**
 * The request limits of SPEC §1 that Node does not enforce itself, in one `onRequest` hook:
 *
 * - Headers over {@link MAX_HEADER_BYTES} as sent are a 431 and the connection is closed. Node's
 *   parser refuses a block whose names and values pass its limit (answered by
 *   {@link clientErrorHandler}), but counts neither the `: ` nor the line end of each line, so a
 *   block of many short lines got through up to a quarter over. The hook counts the rest: the
 *   request line, four bytes a line, the blank line (a sum over the raw header list, no
 *   allocation). Node keeps only the first `maxHeadersCount` lines of a request (2,000 by
 *   default); raised to {@link MAX_LINES}, past which a block cannot be under the limit, every
 *   line is seen.
 * - A body must arrive in time: a JSON body within `requestTimeoutMs`, any other body (uploads)
 *   within `uploadTimeoutMs`, or a route's own `config[BODY_TIMEOUT]`. A client that is still
 *   sending then gets a 408 and its connection is closed, so a trickled body cannot hold a socket.
 *   One timer per request that has a body still to come.
 */
export function registerRequestLimits(fastify: FastifyInstance, server: Server, limits: HttpLimits): void {
  server.maxHeadersCount = MAX_LINES;
  fastify.addHook('onRequest', (req, reply, done) => {
    const lines = req.raw.rawHeaders;
    // "<method> <url> HTTP/1.1\r\n", then "<name>: <value>\r\n" a line, then "\r\n".
    let size = (req.raw.method ?? '').length + req.originalUrl.length + 13;
    for (let i = 0; i < lines.length; i++) size += lines[i].length + 2;
    if (size > MAX_HEADER_BYTES || lines.length >= 2 * MAX_LINES) {
      void reply
        .status(431)
        .header('connection', 'close')
        .header('content-type', 'application/json; charset=utf-8')
        .send(HEADERS_TOO_LARGE);
      return;
    }
    if (!hasBody(req) || req.raw.complete) return done();
    const own = (req.routeOptions.config as unknown as Record<string, unknown> | undefined)?.[BODY_TIMEOUT];
    const ms =
      typeof own === 'number'
        ? own
        : hasJsonDeadline(req.headers['content-type'])
          ? limits.requestTimeoutMs
          : limits.uploadTimeoutMs;
    const timer = setTimeout(() => timedOut(reply), ms);
    timer.unref();
    const clear = (): void => clearTimeout(timer);
    req.raw.once('end', clear);
    req.raw.once('close', clear);
    done();
  });
}

function timedOut(reply: FastifyReply): void {
  const socket = reply.raw.socket;
  if (!socket || socket.destroyed) return;
  if (reply.sent || reply.raw.headersSent) {
    socket.destroy();
    return;
  }
  reply.raw.once('finish', () => socket.destroy());
  void reply
    .status(408)
    .header('connection', 'close')
    .header('content-type', 'application/json; charset=utf-8')
    .send(TIMEOUT_BODY);
}

/**
 * At most `max` open connections per client address (SPEC §1); one more is closed at once.
 * Addresses of trusted proxies are exempt: behind a proxy every client shares its address, so
 * the proxy must do this itself.
 */
export function capConnectionsPerIp(server: Server, max: number, trustedProxies: string[]): void {
  if (max <= 0) return;
  const exempt = new BlockList();
  for (const p of trustedProxies) {
    const [addr, bits] = p.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) exempt.addAddress(addr, type);
    else exempt.addSubnet(addr, Number(bits), type);
  }
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const ip = socket.remoteAddress;
    if (!ip || exempt.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4')) return;
    const n = (open.get(ip) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      return;
    }
    open.set(ip, n);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left <= 0) open.delete(ip);
      else open.set(ip, left);
    });
  });
}

interface ClientError extends Error {
  code?: string;
}

/**
 * Answers what Node's HTTP parser refuses (malformed requests, headers too large, a request
 * not received in time) with SPEC §1's body instead of Fastify's; then closes the connection.
 */
export function clientErrorHandler(err: ClientError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let raw: string;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    raw = rawTimeoutResponse();
  } else {
    const [status, text, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'PAYLOAD_TOO_LARGE', HEADERS_TOO_LARGE_MESSAGE]
        : [400, 'Bad Request', 'VALIDATION_FAILED', 'malformed HTTP request'];
    const body = JSON.stringify({
      error: message,
      code,
      ...(code === 'VALIDATION_FAILED' ? { details: [] } : {}),
    });
    raw =
      `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  }
  // A small write is flushed at once, as Fastify's own handler relies on.
  if (socket.writable) socket.write(raw);
  socket.destroy();
}
