import { loadConfigOrExit } from '@app/core';
import { formatReplayReport, replayDeadLetters } from '@app/events';

/**
 * `npm run dlq:replay [-- --queue like.worker] [--dry-run]`: moves dead-lettered events back to
 * their work queue and prints what moved (see `replayDeadLetters`).
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const queues: string[] = [];
  let dryRun = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--dry-run') dryRun = true;
    else if (args[i] === '--queue' && args[i + 1]) queues.push(args[++i]);
    else throw new Error(`unknown argument ${args[i]} (usage: dlq:replay [--queue <name>]... [--dry-run])`);
  }
  const config = loadConfigOrExit();
  if (!config.amqpUrl) throw new Error('AMQP_URL is not set: there is no broker to replay from');
  const reports = await replayDeadLetters(config.amqpUrl, {
    queues: queues.length ? queues : undefined,
    dryRun,
  });
  console.log(formatReplayReport(reports, dryRun));
}

main().catch((err: unknown) => {
  console.error(`dlq:replay failed: ${(err as Error).message}`);
  process.exit(1);
});
