import { createServer, Server, Socket, connect } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket | null;
}

/**
 * A TCP proxy a test controls, to take a dependency away and bring it back:
 * - `cut()` closes every connection and refuses new ones (the server is down); `restore()`
 *   accepts again;
 * - `partition()` keeps every connection open but lets nothing through either way, and holds new
 *   connections accepted but unanswered (a network partition: the peer is silent, not gone);
 *   `heal()` lets the held bytes and connections through again.
 */
export class TcpProxy {
  private server!: Server;
  private readonly pairs = new Set<Pair>();
  private accepting = true;
  private partitioned = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<number> {
    this.server = createServer((client) => {
      if (!this.accepting) {
        client.destroy();
        return;
      }
      const pair: Pair = { client, upstream: null };
      this.pairs.add(pair);
      const drop = (): void => {
        client.destroy();
        pair.upstream?.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', drop).on('close', drop);
      if (this.partitioned) client.pause();
      else this.open(pair, drop);
    });
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  private open(pair: Pair, drop: () => void): void {
    const upstream = connect(this.targetPort, this.targetHost);
    pair.upstream = upstream;
    upstream.on('error', drop).on('close', drop);
    this.forward(pair.client, upstream);
    this.forward(upstream, pair.client);
  }

  /** Copies `from` into `to` with back-pressure (never resuming during a partition); ends `to` with `from`. */
  private forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => {
          if (!this.partitioned) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
  }

  /** Drops every open connection and refuses new ones. */
  cut(): void {
    this.accepting = false;
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    this.pairs.clear();
  }

  restore(): void {
    this.accepting = true;
  }

  /** Nothing flows either way; connections stay open; new ones are accepted and held silent. */
  partition(): void {
    this.partitioned = true;
    for (const p of this.pairs) {
      p.client.pause();
      p.upstream?.pause();
    }
  }

  /** The partition ends: held bytes are delivered, held connections reach the server. */
  heal(): void {
    this.partitioned = false;
    for (const p of [...this.pairs]) {
      if (!p.upstream) {
        this.open(p, () => {
          p.client.destroy();
          p.upstream?.destroy();
          this.pairs.delete(p);
        });
      }
      p.client.resume();
      p.upstream?.resume();
    }
  }

  /** Open client connections (for assertions). */
  get connections(): number {
    return this.pairs.size;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
