#!/usr/bin/env node
// Fails when package-lock.json has an entry with a `resolved` URL and no `integrity`: such an
// entry was written by hand (or for a tarball that does not exist) and `npm ci` cannot verify it.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const lock = JSON.parse(readFileSync(join(__dirname, '..', 'package-lock.json'), 'utf8'));
const bad = Object.entries(lock.packages ?? {})
  .filter(([, p]) => typeof p.resolved === 'string' && !p.integrity)
  .map(([path, p]) => `${path || '(root)'} -> ${p.resolved}`);
if (bad.length > 0) {
  console.error(`package-lock.json: ${bad.length} entries with a resolved URL but no integrity:`);
  for (const b of bad) console.error(`  ${b}`);
  process.exit(1);
}
console.log(
  `package-lock.json: ${Object.keys(lock.packages ?? {}).length} entries, every resolved one has an integrity`,
);
