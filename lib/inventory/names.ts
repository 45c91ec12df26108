/**
 * Names the way Ansible accepts them. Group and variable names must be Python identifiers
 * (Ansible turns other characters into `_` with a warning); host names must not hold spaces,
 * commas, colons or brackets (the inventory syntaxes use them), nor start with `-`.
 */
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST = /^[A-Za-z0-9_][A-Za-z0-9_.@-]*$/;
const STAGE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const PY_KEYWORDS = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(' '),
);

/** Why `name` is not a valid group name, or undefined if it is. */
export function groupNameProblem(name: string): string | undefined {
  if (name === 'all' || name === 'ungrouped') return `'${name}' is a group Ansible makes by itself; name another group`;
  if (!IDENT.test(name)) return `'${name}' is not a valid group name: use letters, digits and '_', not starting with a digit (Ansible rewrites other characters)`;
  return undefined;
}

/** Why `name` is not a valid variable name, or undefined if it is. */
export function varNameProblem(name: string): string | undefined {
  if (!IDENT.test(name) || PY_KEYWORDS.has(name)) return `'${name}' is not a valid variable name: use letters, digits and '_', not starting with a digit, and not a Python keyword`;
  return undefined;
}

/** Why `name` is not a valid host name, or undefined if it is. */
export function hostNameProblem(name: string): string | undefined {
  if (!HOST.test(name)) return `'${name}' is not a valid host name: use letters, digits, '.', '-', '_' (no spaces, commas, colons or brackets)`;
  return undefined;
}

/** Why `name` is not a valid stage name (it names folders and JUnit suites), or undefined. */
export function stageNameProblem(name: string): string | undefined {
  if (!STAGE.test(name)) return `'${name}' is not a valid stage name: use letters, digits, '.', '-', '_', starting with a letter or digit`;
  return undefined;
}
