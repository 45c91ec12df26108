/**
 * The environment of a controller stage (`run:`): a clean one, documented in the README —
 * the basics of the caller's environment (PATH, HOME, locale, TMPDIR, TERM, USER, SHELL, TZ),
 * then what the harness hands over. Nothing of Ansible's or the harness's own settings leaks in.
 */
import type { Vars } from '../model/index.js';

/** Variables taken from the caller's environment, and every `LC_*`. */
const BASICS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TERM', 'NO_COLOR'];

/** What a controller stage is told. */
export interface ControllerEnvOptions {
  /** The caller's environment. */
  base: NodeJS.ProcessEnv;
  /** The generated inventory (`HARNESS_INVENTORY`). */
  inventory: string;
  /** The run directory (`HARNESS_RUN_DIR`). */
  runDir: string;
  /** The stage's own folder, where its `outputs` are written (`HARNESS_STAGE_DIR`). */
  stageDir: string;
  /** The vars published by earlier stages (`HARNESS_VARS`, as JSON). */
  published: Vars;
  /** The scenario's name (`HARNESS_SCENARIO`) and the stage's (`HARNESS_STAGE`). */
  scenario: string;
  stage: string;
  /** The secrets the stage lists, by name: each becomes a variable of that name. */
  secrets?: ReadonlyMap<string, string>;
}

/** The whole environment of a controller stage's command. */
export function controllerEnv(o: ControllerEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.base)) {
    if (v !== undefined && (BASICS.includes(k) || k.startsWith('LC_'))) env[k] = v;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  Object.assign(env, {
    HARNESS_INVENTORY: o.inventory,
    HARNESS_RUN_DIR: o.runDir,
    HARNESS_STAGE_DIR: o.stageDir,
    HARNESS_VARS: JSON.stringify(o.published),
    HARNESS_SCENARIO: o.scenario,
    HARNESS_STAGE: o.stage,
  });
  for (const [name, value] of o.secrets ?? []) env[name] = value;
  return env;
}
