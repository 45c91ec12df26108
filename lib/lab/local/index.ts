/** The `local` lab provider: hosts as real sshd processes on loopback. */
export { createLocalProvider } from './provider.js';
export type { LocalProviderOptions } from './options.js';
export { TARGET_PYTHON, placeHost } from './host-vars.js';
export { renderSshdConfig, type SshdConfigInput } from './sshd-config.js';
export { sshCheckArgs, sshCheck, type SshTarget } from './check.js';
export { waitForSshBanner, type BannerWaitOptions } from './banner.js';
export { knownHostsLine } from './known-hosts.js';
export { procStat, procCmdline, descendants, stopTree, type ProcStat, type StopOutcome } from '../../util/proc.js';
export { releaseRecorded } from '../release.js';
export { readLabRecord, LAB_RECORD_FILE, type LabRecord, type RecordedHost, type RecordedProcess } from '../record.js';
