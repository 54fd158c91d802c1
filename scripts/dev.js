#!/usr/bin/env node
// Development: TypeScript in watch mode, the api (and the worker when AMQP_URL is set) restarted
// on every rebuild, and the Vite dev server (http://localhost:5173, proxying /api and /static).
const { spawn, execSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const children = [];

function run(name, cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  const prefix = `[${name}] `;
  const pipe = (stream, out) => stream.on('data', (d) => out.write(d.toString().replace(/^(?=.)/gm, prefix)));
  pipe(child.stdout, process.stdout);
  pipe(child.stderr, process.stderr);
  child.on('exit', (code) => console.log(`${prefix}exited (${code})`));
  children.push(child);
  return child;
}

execSync('npm run --silent build:server', { cwd: root, stdio: 'inherit' });
run('tsc', bin('tsc'), ['-w', '--preserveWatchOutput', '-p', 'tsconfig.build.json']);
run('alias', bin('tsc-alias'), ['-w', '-p', 'tsconfig.build.json']);
run('api', process.execPath, ['--watch', 'dist/apps/api/src/main.js']);
if (process.env.AMQP_URL) run('worker', process.execPath, ['--watch', 'dist/apps/worker/src/main.js']);
run('web', bin('vite'), ['--config', 'apps/web/vite.config.ts']);

const stop = () => {
  for (const c of children) c.kill('SIGTERM');
  setTimeout(() => process.exit(0), 500);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
