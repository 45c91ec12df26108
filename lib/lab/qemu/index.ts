/** The qemu lab provider and the pieces it is made of. */
export { createQemuProvider, QemuProvider, QEMU_HOST_ROOT, QEMU_SSH_EXTRA_ARGS, vmHosts, type QemuProviderSettings } from './provider.js';
export { parseQemuOptions, labAddress, labMac, QEMU_OPTION_NAMES, type QemuOptions, type ImageFile } from './options.js';
export { checkQemuTools, QEMU_APT_COMMAND, QEMU_TOOLS, type QemuToolPaths } from './tools.js';
export { ensureImage, ensureImageOf, imageKey, imagePackages, imagesRoot, BASE_PACKAGES, IMAGE_BUILDER_VERSION, type ImageConfig, type QemuImage, type ImageManifest } from './image.js';
export { ensureGolden, type GoldenState } from './golden.js';
export { debianSource, readAptSources, parseDeb822Sources, parseOneLineSources, type AptSource, type DebianSource } from './mirror.js';
export { QmpClient, QmpError, type QmpEvent } from './qmp.js';
export { qemuArgs, Vm, type VmSpec } from './vm.js';
export { guestSetupScript, guestHostname, type GuestIdentity } from './guest.js';
export { releaseQemuRecorded, readQemuRecord, createQemuRecorder, type QemuRecorder, type QemuLabRecord, type QemuReleaseReport } from './record.js';
export { QEMU_CHECKPOINT_MANIFEST, type QemuCheckpointManifest } from './checkpoint.js';
// What the libvirt provider (lib/lab/libvirt) reuses: the host tools, the cached image, the guest's identity and clock, ssh readiness.
export { run, type RunOptions } from './exec.js';
export { freePort } from './net.js';
export { sshScript, waitForSshBanner, type SshTarget } from './ssh.js';
export { clockScript } from './guest.js';
export { KERNEL_APPEND } from './vm.js';
export { mapLimit } from './limit.js';
