import path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/paths.js';

/**
 * The test suite's own long-lived cache root (what `cacheDir()` is for real runs), for what is
 * expensive to make again, such as the qemu guest image (~2 min): `$HARNESS_TEST_CACHE`, else
 * `.tmp/test-cache` in the checkout (git-ignored). Never the user's ~/.cache. Everything else a
 * test caches goes to the throwaway XDG_CACHE_HOME that scripts/test.mjs gives the suite, or to
 * a temporary folder of the test's own.
 */
export const SUITE_CACHE: string = process.env.HARNESS_TEST_CACHE || path.join(PACKAGE_ROOT, '.tmp', 'test-cache');
