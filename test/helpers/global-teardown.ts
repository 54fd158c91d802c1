import { runServers } from './global-setup';

/** Stops what global-setup.ts started for this run. */
export default async function globalTeardown(): Promise<void> {
  const servers = runServers();
  await servers.cluster?.stop();
  await servers.pair?.stop();
  servers.cluster = undefined;
  servers.pair = undefined;
}
