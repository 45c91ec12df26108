/**
 * The XML the libvirt lab hands to virsh: a domain per host, the lab network over the lab's own
 * bridge, and the snapshot metadata that re-attaches a saved internal snapshot to a new domain.
 * Pure functions of their inputs.
 */

/** Escapes text for an XML attribute or element. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** What one lab domain is made of. */
export interface DomainSpec {
  name: string;
  /** Fixed by the lab: a snapshot's metadata must name the domain's UUID when it is redefined. */
  uuid: string;
  memory: number;
  cpus: number;
  kernel: string;
  initrd: string;
  /** Kernel command line (the qemu lab's, so the image boots the same way). */
  cmdline: string;
  /** The domain's qcow2 overlay. */
  disk: string;
  /** The libvirt network of the lab NIC (eth1). */
  network: string;
  /** MAC of the lab NIC. */
  mac: string;
  /** Port on 127.0.0.1 forwarded to the guest's sshd (eth0, QEMU's user network). */
  sshPort: number;
  consoleLog: string;
}

/**
 * A domain of type `qemu` (TCG: KVM hangs guests on our machines), q35, kernel booted directly.
 * eth0 is QEMU's user network with the SSH forward on loopback, added as `<qemu:commandline>`
 * (libvirt's own user interface forwards ports only with passt); eth1 is on the lab network.
 * Every PCI address is fixed on the root bus (eth0 00:03, eth1 00:04, disk 00:05), so the guest
 * names the NICs in that order.
 */
export function domainXml(d: DomainSpec): string {
  const e = xmlEscape;
  return `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${e(d.name)}</name>
  <uuid>${e(d.uuid)}</uuid>
  <memory unit='MiB'>${d.memory}</memory>
  <vcpu>${d.cpus}</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${e(d.kernel)}</kernel>
    <initrd>${e(d.initrd)}</initrd>
    <cmdline>${e(d.cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='maximum'/>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='writeback'/>
      <source file='${e(d.disk)}'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0' bus='0' slot='0x05' function='0'/>
    </disk>
    <interface type='network'>
      <source network='${e(d.network)}'/>
      <mac address='${e(d.mac)}'/>
      <model type='virtio'/>
      <address type='pci' domain='0' bus='0' slot='0x04' function='0'/>
    </interface>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='${e(d.consoleLog)}' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/>
    <qemu:arg value='user,id=harness-ssh,restrict=on,hostfwd=tcp:127.0.0.1:${d.sshPort}-:22'/>
    <qemu:arg value='-device'/>
    <qemu:arg value='virtio-net-pci,netdev=harness-ssh,bus=pcie.0,addr=0x3'/>
  </qemu:commandline>
</domain>
`;
}

/**
 * The lab network: a `forward mode='bridge'` network over a bridge the lab made itself, with no
 * address on this machine. (libvirt's own isolated networks install firewall rules machine-wide.)
 */
export function networkXml(name: string, bridge: string): string {
  return `<network>\n  <name>${xmlEscape(name)}</name>\n  <forward mode='bridge'/>\n  <bridge name='${xmlEscape(bridge)}'/>\n</network>\n`;
}

/**
 * Snapshot metadata for `virsh snapshot-create --redefine`: the internal snapshot `name` (memory
 * and disk, inside the qcow2 the domain now runs on), with `domain` as the machine to revert into.
 */
export function snapshotXml(name: string, createdAt: Date, domain: string): string {
  return `<domainsnapshot>\n  <name>${xmlEscape(name)}</name>\n  <state>paused</state>\n  <creationTime>${Math.floor(createdAt.getTime() / 1000)}</creationTime>\n  <memory snapshot='internal'/>\n  <disks><disk name='vda' snapshot='internal'/></disks>\n${domain.replace(/^/gm, '  ').trimEnd()}\n</domainsnapshot>\n`;
}
