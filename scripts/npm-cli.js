// The npm CLI script to run with this Node (`node npm-cli.js …`), so that scripts need no `npm`
// shim or shell: the one running this script (`npm_execpath`, set by `npm run`/`npm test`), else
// the npm installed next to this Node (Windows installs it beside node.exe, Unix installs under
// ../lib/node_modules).
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');

function npmCli() {
  if (process.env.npm_execpath) return process.env.npm_execpath;
  const dir = dirname(process.execPath);
  const candidates = [
    join(dir, 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    join(dir, '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`npm not found next to ${process.execPath}: run this through npm`);
  return found;
}

module.exports = { npmCli };
