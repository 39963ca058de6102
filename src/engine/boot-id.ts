import { readFileSync } from 'node:fs';
import { uptime } from 'node:os';

/**
 * An id that changes on every boot of this host: the kernel's boot id on Linux, else the
 * boot time rounded to ten seconds (uptime drifts slightly between readings).
 */
export function currentBootId(): string {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    if (id !== '') return id;
  } catch {
    // Not Linux, or /proc is not mounted: fall back to the boot time.
  }
  const bootedAt = Math.round((Date.now() - uptime() * 1000) / 10_000) * 10_000;
  return `boot-${bootedAt}`;
}
