import type { Cluster, Redis } from 'ioredis';

/**
 * Makes the commands `client` sends in one turn of the event loop leave in one write (one `writev`
 * syscall): the connection's socket is corked when the first of them is written and uncorked in
 * the loop's check phase (`setImmediate`), after the I/O callbacks of that turn (other requests'
 * commands) have run. That is when ioredis's auto-pipelining sends its batch.
 *
 * It stands in for ioredis's `enableAutoPipelining`. Auto-pipelining batches by creating
 * a `Pipeline` per batch and lets one batch per connection be in flight at a time (the next waits
 * for its answers); measured here, it sends a large share of what its commands allocate (the
 * commands, their arguments, their replies) to the old generation. In an api answering deeper
 * feed pages that was 45 MB a second promoted and scavenges taking 10-23 % of the time; alone with
 * ioredis (50 callers, an `MGET` and a `GET` each), 788-1,095 MB promoted in 6 s against 9-10 MB,
 * at 36-52 µs of CPU a call against 25-34 µs (bench/README.md). Commands go out in the order they
 * were sent, as they do without batching.
 *
 * Only ioredis's `sendCommand` is wrapped (every command goes through it): the client and its
 * connection handling are ioredis's own. For a Cluster, {@link batchClusterWritesPerTurn}.
 */
export function batchWritesPerTurn(client: Redis): void {
  const send = client.sendCommand.bind(client);
  let corked: Redis['stream'] | undefined;
  const uncork = (): void => {
    const stream = corked;
    corked = undefined;
    stream?.uncork();
  };
  client.sendCommand = (command, stream) => {
    // A command given its own stream is a pipeline's or a MULTI's, written by it in one go.
    if (corked === undefined && stream === undefined && client.status === 'ready') {
      const socket = client.stream;
      if (socket.writable) {
        socket.cork();
        corked = socket;
        setImmediate(uncork);
      }
    }
    return send(command, stream);
  };
}

/** {@link batchWritesPerTurn} for each node client of a Cluster, those it has and those it adds. */
export function batchClusterWritesPerTurn(cluster: Cluster): void {
  const done = new WeakSet<Redis>();
  const wrap = (node: Redis): void => {
    if (done.has(node)) return;
    done.add(node);
    batchWritesPerTurn(node);
  };
  cluster.on('+node', wrap);
  for (const node of cluster.nodes('all')) wrap(node);
}
