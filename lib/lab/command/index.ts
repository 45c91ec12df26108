/** The `command` lab provider: hosts from the team's own allocate/release scripts. */
export { createCommandProvider, releaseCommandRecorded, mergeHosts, type CommandLabOptions, type CommandLabRecord } from './provider.js';
export { parseAllocateOutput, ALLOCATE_OUTPUT_SCHEMA, type AllocateOutput, type ScriptHost } from './output.js';
