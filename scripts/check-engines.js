#!/usr/bin/env node
// Fails when a package in package-lock.json declares `engines.node` that a supported Node
// version does not satisfy (what `npm ci` reports as EBADENGINE). Supported: the lowest version
// of each line in this project's own `engines.node` (20, 22, 24); pass versions to check others.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const semver = require('semver');

const root = join(__dirname, '..');
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node;
const floors = own.split('||').map((part) => semver.minVersion(part.trim()).version);
const versions = process.argv.slice(2).length ? process.argv.slice(2) : floors;
const bad = [];
for (const [path, pkg] of Object.entries(lock.packages ?? {})) {
  const range = pkg.engines && pkg.engines.node;
  if (!path || !range) continue;
  for (const v of versions) {
    if (!semver.satisfies(v, range, { includePrerelease: true }))
      bad.push(`${path} wants node ${range}, not ${v}`);
  }
}
if (bad.length > 0) {
  console.error(
    `engines: ${bad.length} packages refuse a supported Node version (npm would warn EBADENGINE):`,
  );
  for (const b of bad) console.error(`  ${b}`);
  process.exit(1);
}
console.log(`engines: every package accepts Node ${versions.join(', ')}`);
