import type { LabSpec } from '../model/index.js';
import type { LabProvider } from './provider.js';
import { providerEntry } from './registry.js';

/**
 * The provider a scenario names, loaded on demand (providers never import each other).
 * `scenarioFile` lets a provider resolve relative paths in its options.
 */
export async function createProvider(spec: LabSpec, scenarioFile?: string): Promise<LabProvider> {
  return (await providerEntry(spec.provider)).create(spec, scenarioFile);
}
