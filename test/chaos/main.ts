/** `npm run chaos -- --runs N --seed S [--jobs J] [--minutes M] [--keep]`: seeded fault injection into real runs (see runner.ts). */
import { runChaos, summary } from './runner.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
};
const runs = Number(opt('runs') ?? 10);
const seed = Number(opt('seed') ?? Math.floor(Math.random() * 2 ** 31));
const jobs = Number(opt('jobs') ?? 1);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed) || seed < 0 || !Number.isInteger(jobs) || jobs < 1) {
  console.error('usage: npm run chaos -- [--runs N] [--seed S] [--jobs J: injections at once] [--minutes M: start no injection after M minutes] [--keep]');
  process.exit(2);
}
if (process.getuid?.() !== 0) console.log('note: not root: the full-disk and read-only-store faults need mount and will fail');
console.log(`chaos: ${runs} injections from seed ${seed}, ${jobs} at once (replay one: npm run chaos -- --runs 1 --seed S)`);
const t0 = Date.now();
const minutes = opt('minutes') === undefined ? undefined : Number(opt('minutes'));
const outcomes = await runChaos({ runs, seed, jobs, keep: args.includes('--keep'), ...(minutes ? { untilMs: t0 + minutes * 60_000 } : {}) });
for (const l of summary(outcomes, Date.now() - t0)) console.log(l);
process.exit(outcomes.some((o) => o.failures.length) ? 1 : 0);
