/** Running Ansible: argv, ansible.cfg and env, the pty runner, the event stream. Only re-exports. */
export * from './argv.js';
export * from './config.js';
export { findUserConfig, parseIni, userSettings, type IniSections, type UserConfig } from './user-config.js';
export * from './events.js';
export * from './runner.js';
export * from './version.js';
export { killGroup, liveGroupMembers, waitGroupGone } from '../util/kill.js';
export { createWarmPool, type WarmPool, type WarmProcess } from './warm.js';
