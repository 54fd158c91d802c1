import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The api's open connections, for its drain ({@link drain}). One `Set` entry per connection (not
 * per request): kept-alive connections carry many requests each.
 */
const connections = new WeakMap<Server, Set<Socket>>();

export function trackConnections(server: Server): void {
  const open = new Set<Socket>();
  connections.set(server, open);
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
}

/**
 * Drains `server` while `closing` (Fastify's close: no new connection, idle ones closed, a request
 * still arriving on a kept-alive one served with `Connection: close`) runs: a request that was already
 * in flight when the close began is answered with `Connection: close` (Node then closes its
 * connection after the response), and a connection that has become idle since is closed (checked
 * every 50 ms: a response already under way kept its keep-alive). Resolves when `closing` does.
 * The same steps as the `http-terminator` package, on a server Fastify closes.
 */
export async function drain(server: Server, closing: Promise<void>): Promise<void> {
  for (const socket of connections.get(server) ?? []) {
    // The response a connection is writing (Node's own link; `undefined` between requests).
    const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (res && !res.headersSent) res.setHeader('connection', 'close');
  }
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  try {
    await closing;
  } finally {
    clearInterval(sweep);
  }
}
