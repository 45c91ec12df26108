import { LabError } from '../errors.js';
import type { LabSpec } from '../model/index.js';
import type { LabProvider } from './provider.js';

/**
 * The provider a scenario names, loaded on demand (providers never import each other).
 * `scenarioFile` lets a provider resolve relative paths in its options.
 */
export async function createProvider(spec: LabSpec, scenarioFile?: string): Promise<LabProvider> {
  switch (spec.provider) {
    case 'local':
      return (await import('./local/index.js')).createLocalProvider(spec.options);
    case 'qemu':
      return (await import('./qemu/index.js')).createQemuProvider(spec.options, scenarioFile ? { scenarioFile } : {});
    case 'static':
      return (await import('./static.js')).createStaticProvider();
    default:
      throw new LabError(`the '${spec.provider}' lab provider is not available in this version of ansible-harness; use local, qemu or static`);
  }
}
