/** Inventories: read INI/YAML/JSON (with host_vars/ and group_vars/) into a lab, write a lab back. */
export { readInventory, type ReadInventoryOptions } from './read.js';
export { formatInventory, toIni, toJson, toYaml, INVENTORY_FORMATS, type InventoryFormat } from './write.js';
