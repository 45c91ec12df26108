/** Writing a lab as an inventory in the format asked for. */
import type { Lab } from '../model/index.js';
import { toIni } from './write-ini.js';
import { toJson, toYaml } from './write-yaml.js';

/** The inventory formats {@link formatInventory} writes. */
export const INVENTORY_FORMATS = ['ini', 'yaml', 'json'] as const;
/** One of {@link INVENTORY_FORMATS}. */
export type InventoryFormat = (typeof INVENTORY_FORMATS)[number];

/** The lab as an inventory in `format`; `ansible-inventory --list` reads from it what the lab declares. */
export function formatInventory(lab: Lab, format: InventoryFormat): string {
  switch (format) {
    case 'ini':
      return toIni(lab);
    case 'yaml':
      return toYaml(lab);
    case 'json':
      return toJson(lab);
  }
}

export { toIni, toJson, toYaml };
