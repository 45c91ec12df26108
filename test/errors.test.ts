import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InputError, formatProblem, exitCodeOf, LabError } from '../lib/errors.js';

test('a problem formats as file:line:col: path: message', () => {
  assert.is(formatProblem({ file: 's.yml', line: 3, col: 5, path: 'stages[0].name', message: 'is required' }), 's.yml:3:5: stages[0].name: is required');
  assert.is(formatProblem({ file: 's.yml', message: 'empty' }), 's.yml: empty');
});

test('errors carry their exit codes', () => {
  assert.is(exitCodeOf(new InputError([{ file: 'a', message: 'b' }])), 2);
  assert.is(exitCodeOf(new LabError('no sshd')), 3);
  assert.is(exitCodeOf(new Error('crash')), 1);
});

test.run();
