import type { ConfirmChannel, GetMessage } from 'amqplib';
import { connect } from 'amqp-connection-manager';
import { connectionOptions, waitFor } from './amqp-options';
import { parseEvent } from './event-validation';
import { ALL_CONSUMER_QUEUES, deadLetterQueueName, Headers, type ConsumerQueue } from './topology';

export interface ReplayOptions {
  /** Work queue names (`like.worker`…); default every consumer queue. */
  queues?: readonly string[];
  /** Only report what would move. */
  dryRun?: boolean;
}

export interface ReplayReport {
  queue: string;
  deadLetterQueue: string;
  /** Moved back to the work queue (or, on a dry run, that would be). */
  moved: number;
  /** Of those, messages that are not valid events: they will be dead-lettered again at once. */
  malformed: number;
  byRoutingKey: Record<string, number>;
  /** Why they were dead-lettered (the `x-error` header), with counts. */
  reasons: Record<string, number>;
}

/** Headers that described the message's last life; a replayed message starts afresh. */
const RESET = [Headers.failures, Headers.waits, Headers.error, 'x-death'];

/**
 * `npm run dlq:replay`: moves the messages present in each `<queue>.dlq` when it starts back to
 * the work queue (default exchange, routing key = the queue), with their retry counters reset.
 * Safe to repeat: consumers dedupe by `event_id`, so an event that was applied meanwhile (the
 * reconciliation applies stuck events) changes nothing. Each message is acked in the DLQ only
 * after the broker confirmed its copy. A dry run reads them and puts them all back untouched.
 */
export async function replayDeadLetters(url: string, options: ReplayOptions = {}): Promise<ReplayReport[]> {
  const wanted = options.queues ?? ALL_CONSUMER_QUEUES.map((q) => q.name);
  const unknown = wanted.filter((q) => !ALL_CONSUMER_QUEUES.some((c) => c.name === q));
  if (unknown.length > 0) {
    throw new Error(
      `unknown queue ${unknown.join(', ')} (queues: ${ALL_CONSUMER_QUEUES.map((q) => q.name).join(', ')})`,
    );
  }
  const manager = connect([url], { ...connectionOptions(), reconnectTimeInSeconds: 60 });
  manager.on('connectFailed', () => undefined);
  let channel: ConfirmChannel | null = null;
  const wrapper = manager.createChannel({
    confirm: true,
    setup: (ch: ConfirmChannel) => {
      channel = ch;
      return Promise.resolve();
    },
  });
  try {
    await waitFor(() => channel !== null, 5000);
    const ch = channel as ConfirmChannel | null;
    if (!ch) throw new Error('RabbitMQ is not reachable');
    const reports: ReplayReport[] = [];
    for (const q of ALL_CONSUMER_QUEUES.filter((c) => wanted.includes(c.name))) {
      reports.push(await replayQueue(ch, q, options.dryRun ?? false));
    }
    return reports;
  } finally {
    await wrapper.close().catch(() => undefined);
    await manager.close().catch(() => undefined);
  }
}

async function replayQueue(ch: ConfirmChannel, queue: ConsumerQueue, dryRun: boolean): Promise<ReplayReport> {
  const dlq = deadLetterQueueName(queue.name);
  const report: ReplayReport = {
    queue: queue.name,
    deadLetterQueue: dlq,
    moved: 0,
    malformed: 0,
    byRoutingKey: {},
    reasons: {},
  };
  const present = (await ch.checkQueue(dlq)).messageCount;
  const held: GetMessage[] = [];
  for (let i = 0; i < present; i++) {
    const msg = await ch.get(dlq, { noAck: false });
    if (!msg) break;
    const headers = { ...((msg.properties.headers ?? {}) as Record<string, unknown>) };
    const key = typeof msg.properties.type === 'string' ? msg.properties.type : msg.fields.routingKey;
    const reason =
      typeof headers[Headers.error] === 'string'
        ? (headers[Headers.error] as string)
        : '(no reason recorded)';
    report.byRoutingKey[key] = (report.byRoutingKey[key] ?? 0) + 1;
    report.reasons[reason] = (report.reasons[reason] ?? 0) + 1;
    if (!parseEvent(key, msg.content).ok) report.malformed++;
    report.moved++;
    if (dryRun) {
      held.push(msg);
      continue;
    }
    for (const h of RESET) delete headers[h];
    const ok = await new Promise<boolean>((resolve) => {
      ch.publish(
        '',
        queue.name,
        msg.content,
        {
          persistent: true,
          messageId: msg.properties.messageId as string | undefined,
          type: key,
          contentType: msg.properties.contentType as string | undefined,
          timestamp: msg.properties.timestamp as number | undefined,
          headers,
        },
        (err: unknown) => resolve(err === null || err === undefined),
      );
    });
    if (!ok) {
      ch.nack(msg, false, true);
      report.moved--;
      throw new Error(
        `the broker did not confirm a replayed message of ${queue.name}; stopped (nothing lost)`,
      );
    }
    ch.ack(msg);
  }
  // A dry run puts every message back where it was, unchanged.
  if (held.length > 0) ch.nackAll(true);
  return report;
}

/** The report as lines for people. */
export function formatReplayReport(reports: ReplayReport[], dryRun: boolean): string {
  const verb = dryRun ? 'would move' : 'moved';
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.deadLetterQueue}: ${verb} ${r.moved} to ${r.queue}`);
    for (const [k, n] of Object.entries(r.byRoutingKey)) lines.push(`  ${k}: ${n}`);
    for (const [reason, n] of Object.entries(r.reasons)) lines.push(`  reason ×${n}: ${reason}`);
    if (r.malformed > 0) lines.push(`  ${r.malformed} are not valid events and will be dead-lettered again`);
  }
  const total = reports.reduce((n, r) => n + r.moved, 0);
  lines.push(`dlq:replay: ${verb} ${total} messages in all`);
  return lines.join('\n');
}
