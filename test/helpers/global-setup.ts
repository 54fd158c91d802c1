import { startMariadbPair, type MariadbPairHandle } from './mariadb-pair';
import { startRedisCluster, type RedisClusterHandle } from './redis-cluster';

/** What this run started, for global-teardown.ts (same process). */
export interface RunServers {
  cluster?: RedisClusterHandle;
  pair?: MariadbPairHandle;
}

const KEY = '__fsvRunServers';

export function runServers(): RunServers {
  const g = globalThis as unknown as Record<string, RunServers | undefined>;
  return (g[KEY] ??= {});
}

/**
 * e2e runs on scaled-out servers (jest's globalSetup of the e2e project; nothing without the
 * switches). `TEST_REDIS=cluster`: a 3-master Redis Cluster on spare ports, named to the suites
 * by `TEST_REDIS_CLUSTER_NODES`. `TEST_MYSQL=replica`: a MariaDB primary + replica on spare ports,
 * named by `TEST_MYSQL_URL` and `TEST_MYSQL_REPLICA_URLS`. test/helpers/test-env.ts then gives
 * every full-profile suite these instead of the shared servers; global-teardown.ts stops them.
 */
export default async function globalSetup(): Promise<void> {
  const servers = runServers();
  if (process.env.TEST_REDIS === 'cluster' && !process.env.TEST_REDIS_CLUSTER_NODES) {
    servers.cluster = await startRedisCluster();
    process.env.TEST_REDIS_CLUSTER_NODES = servers.cluster.nodes;
    process.stdout.write(`\n[e2e] Redis Cluster for this run: ${servers.cluster.nodes}\n`);
  }
  if (process.env.TEST_MYSQL === 'replica' && !process.env.TEST_MYSQL_REPLICA_URLS) {
    servers.pair = await startMariadbPair();
    process.env.TEST_MYSQL_URL = servers.pair.primaryUrl;
    process.env.TEST_MYSQL_REPLICA_URLS = servers.pair.replicaUrl;
    process.stdout.write(
      `\n[e2e] MariaDB primary ${servers.pair.primaryUrl} + replica ${servers.pair.replicaUrl} for this run\n`,
    );
  }
}
