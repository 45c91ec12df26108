/** The machine a benchmark ran on: CPU, memory, kernel, versions of Node and Ansible, load. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What BENCHMARKS.md says about the machine. */
export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  ansibleCore: string;
  python: string;
  /** The 1, 5 and 15 minute load averages when the benchmark started (other work on the box skews figures). */
  loadAtStart: number[];
}

function firstMatch(text: string, re: RegExp): string | undefined {
  return re.exec(text)?.[1]?.trim();
}

function osName(): string {
  try {
    return firstMatch(readFileSync('/etc/os-release', 'utf8'), /^PRETTY_NAME="?([^"\n]*)"?$/m) ?? os.type();
  } catch {
    return os.type();
  }
}

/** Reads the machine's description (from /proc/cpuinfo, os, `ansible-playbook --version`). */
export function describeMachine(): Machine {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpuModel = firstMatch(readFileSync('/proc/cpuinfo', 'utf8'), /^model name\s*:\s*(.*)$/m) ?? cpuModel;
  } catch {
    /* not Linux */
  }
  let ansibleCore = 'not found';
  let python = 'unknown';
  try {
    const text = execFileSync('ansible-playbook', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    ansibleCore = firstMatch(text, /\[core ([^\]]+)\]/) ?? ansibleCore;
    python = firstMatch(text, /python version = (\S+)/) ?? python;
  } catch {
    /* reported as not found */
  }
  return {
    cpuModel,
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    os: osName(),
    node: process.version,
    ansibleCore,
    python,
    loadAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
