import { LabError } from '../errors.js';
import type { LabSpec } from '../model/index.js';
import type { LabProvider } from './provider.js';

/** The provider a scenario names, loaded on demand (providers never import each other). */
export async function createProvider(spec: LabSpec): Promise<LabProvider> {
  switch (spec.provider) {
    case 'local':
      return (await import('./local/index.js')).createLocalProvider(spec.options);
    case 'static':
      return (await import('./static.js')).createStaticProvider();
    default:
      throw new LabError(`the '${spec.provider}' lab provider is not available in this version of ansible-harness; use local, qemu or static`);
  }
}
