#!/usr/bin/env node
// The image's HEALTHCHECK, for either process: the api answers /healthz on PORT (default 8080),
// the worker on WORKER_HTTP_PORT (default 8081). Which one runs is read from PID 1's command line.
const { readFileSync } = require('node:fs');

let cmdline = '';
try {
  cmdline = readFileSync('/proc/1/cmdline', 'utf8');
} catch {
  /* not Linux: assume the api */
}
const worker = cmdline.includes('apps/worker/');
const port = worker ? process.env.WORKER_HTTP_PORT || 8081 : process.env.PORT || 8080;
fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2500) }).then(
  (r) => process.exit(r.ok ? 0 : 1),
  () => process.exit(1),
);
