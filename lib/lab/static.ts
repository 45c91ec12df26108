import type { AllocatedLab, LabProvider } from './provider.js';
import type { Lab } from '../model/index.js';

/** The `static` provider: the hosts exist already (an inventory names them); nothing to allocate or release. */
export function createStaticProvider(): LabProvider {
  return {
    name: 'static',
    async allocate(lab: Lab): Promise<AllocatedLab> {
      return { lab };
    },
    async release(): Promise<void> {},
  };
}
