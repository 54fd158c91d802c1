import type { ChannelModel } from 'amqplib';
import type { AmqpConnectionManager, AmqpConnectionManagerOptions } from 'amqp-connection-manager';

/** Heartbeat (s): a broker that vanished without closing the socket is noticed within ~2 beats. */
const HEARTBEAT_S = 5;

/**
 * `amqp-connection-manager` options shared by the api's publisher and the worker's transport:
 * a short heartbeat, a 3 s connect timeout, and a reconnect every second while the broker is
 * away (each process holds one or two connections, so this costs the broker nothing).
 */
export function connectionOptions(): AmqpConnectionManagerOptions {
  return {
    heartbeatIntervalInSeconds: HEARTBEAT_S,
    reconnectTimeInSeconds: 1,
    connectionOptions: { timeout: 3000, noDelay: true },
  };
}

/** Resolves once `condition()` holds or `timeoutMs` has passed (polled every 25 ms). */
export function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const tick = (): void => {
      if (condition() || Date.now() >= deadline) resolve();
      else setTimeout(tick, 25);
    };
    tick();
  });
}

/**
 * A channel closed. If its connection is still the manager's live one a moment later, the
 * channel died alone (a channel-level error, e.g. a double ack): the manager only makes a new
 * channel on a new connection, so reconnect. If the connection went too, the manager is already
 * reconnecting.
 */
export function reconnectIfOnlyTheChannelClosed(
  manager: AmqpConnectionManager,
  connection: ChannelModel | undefined,
  stillNeeded: () => boolean,
): void {
  setTimeout(() => {
    if (stillNeeded() && manager.isConnected() && manager.connection === connection) manager.reconnect();
  }, 250).unref();
}
