export { loadScenario, type LoadOptions } from './load.js';
export { SCENARIO_SCHEMA } from './schema.js';
export { parseDuration, formatDuration } from './duration.js';
export { resolveSecrets } from './secrets.js';
