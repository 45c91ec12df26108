export * from './values.js';
export * from './lab.js';
export type * from './scenario.js';
export type * from './events.js';
export type * from './manifest.js';
