#!/usr/bin/env node
// Assembles test/postman.json from the fragments in test/postman/*.json (file-name order).
const { readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = join(__dirname, '..', 'test', 'postman');
const fragments = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: f, ...JSON.parse(readFileSync(join(dir, f), 'utf8')) }));

const variables = new Map([
  ['host', 'http://localhost:8080'],
  ['run', ''],
]);
for (const f of fragments)
  for (const v of f.variable ?? []) if (!variables.has(v.key)) variables.set(v.key, v.value ?? '');

const collection = {
  info: {
    name: 'feedsystem-video',
    description:
      'Every route of the API in a sensible run order, with assertions. Generated from test/postman/*.json by scripts/build-postman.js; run with `npm run test:postman`.',
    schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
  },
  event: [
    {
      listen: 'prerequest',
      script: {
        type: 'text/javascript',
        exec: [
          "if (!pm.collectionVariables.get('run')) {",
          "  pm.collectionVariables.set('run', Math.random().toString(36).slice(2, 8));",
          '}',
        ],
      },
    },
  ],
  variable: [...variables].map(([key, value]) => ({ key, value })),
  item: fragments.map((f) => ({ name: f.name, item: f.item })),
};

const out = JSON.stringify(collection, null, 2) + '\n';
const target = join(__dirname, '..', 'test', 'postman.json');
let previous = '';
try {
  previous = readFileSync(target, 'utf8');
} catch {
  /* first build */
}
writeFileSync(target, out);
const requests = fragments.reduce((n, f) => n + (f.item?.length ?? 0), 0);
console.log(
  `postman: ${fragments.length} folders, ${requests} requests${previous && previous !== out ? ' (updated)' : ''}`,
);
