/**
 * Host patterns against the real Ansible: each pattern is resolved by selectHosts and by
 * `ansible PATTERN -i INV --list-hosts` on the same inventory (the one the harness writes).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatInventory } from '../lib/inventory/index.js';
import { resolvePatterns, splitHostPattern } from '../lib/inventory/patterns.js';
import type { Lab } from '../lib/model/index.js';
import { oracleEnv } from './inventory-oracle.js';
import { tempDir } from './helpers/cli.js';

const LAB: Lab = {
  provider: 'local',
  hosts: [
    { name: 'app-0', groups: ['app'], vars: {} },
    { name: 'app-1', groups: ['app'], vars: {} },
    { name: 'web-0', groups: ['web'], vars: {} },
    { name: 'app-2', groups: ['app'], vars: {} },
    { name: 'app-3', groups: ['app', 'web'], vars: {} },
    { name: 'web-1', groups: ['web'], vars: {} },
    { name: 'db-0', groups: ['db'], vars: {} },
    { name: 'lonely', groups: [], vars: {} },
  ],
  groups: [
    { name: 'prod', children: ['app', 'db'], vars: {} },
    { name: 'app', children: [], vars: {} },
    { name: 'web', children: [], vars: {} },
    { name: 'db', children: [], vars: {} },
  ],
  vars: {},
};

const PATTERNS = [
  'all', '*', 'app', 'web', 'prod', 'ungrouped', 'lonely', 'app-3',
  'app[0]', 'app[-1]', 'app[1:]', 'app[0:1]', 'app[1:2]', 'app[2:]', 'prod[1:3]', 'app[9:]',
  '~app-[01]', '~(web|db)', '~.*-1$', 'web*', '*-0', 'a*', 'app-[13]', 'app-[!13]', '?pp-2',
  'app:web', 'app,web', 'web:app', 'prod:&web', 'prod:!db', 'prod:!app-0', '&web', '!db', 'app:!app[0]',
  'web:app[0]', 'app[0]:web[-1]', 'app,&web,!app-3,db', 'nope', 'app-0:nope', 'web-0:db-0',
];

function listHosts(inventory: string, pattern: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('ansible', [pattern, '-i', inventory, '--list-hosts'], { env: { ...oracleEnv(), ANSIBLE_HOST_PATTERN_MISMATCH: 'ignore' } }, (err, stdout, stderr) => {
      if (err && !/No hosts matched|hosts \(0\)/.test(stdout + stderr)) return reject(new Error(`ansible ${pattern}: ${stderr}`));
      resolve(
        stdout
          .split('\n')
          .slice(1)
          .map((l) => l.trim())
          .filter((l) => l),
      );
    });
  });
}

test('selectHosts resolves every pattern as `ansible --list-hosts` does, in its order', async () => {
  const t = await tempDir();
  try {
    const inv = path.join(t.dir, 'hosts.yml');
    await writeFile(inv, formatInventory(LAB, 'yaml'));
    const wrong: string[] = [];
    const queue = [...PATTERNS];
    const worker = async (): Promise<void> => {
      for (let pattern = queue.shift(); pattern !== undefined; pattern = queue.shift()) {
        const want = await listHosts(inv, pattern);
        const got = resolvePatterns(LAB, [pattern]);
        if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${pattern}: ansible ${JSON.stringify(want)}, harness ${JSON.stringify(got)}`);
      }
    };
    await Promise.all([worker(), worker(), worker()]); // a few ansible processes at once
    assert.equal(wrong, [], wrong.join('\n'));
    // A stage's list of patterns is one pattern joined by ',' (what --limit receives).
    const list = ['app[0]', 'web:!app-3'];
    assert.equal(resolvePatterns(LAB, list), await listHosts(inv, splitHostPattern(list).join(',')));
  } finally {
    await t.remove();
  }
});

test('splitHostPattern splits as Ansible does: commas first, colons outside brackets', () => {
  assert.equal(splitHostPattern('a,b[1], c[2:3] , d'), ['a', 'b[1]', 'c[2:3]', 'd']);
  assert.equal(splitHostPattern('a:&b:!c'), ['a', '&b', '!c']);
  assert.equal(splitHostPattern('app[0:1]'), ['app[0:1]']);
  assert.equal(splitHostPattern(['a:b', 'c']), ['a', 'b', 'c']);
});

test.run();
