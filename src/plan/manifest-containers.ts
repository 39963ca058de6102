import type { ContainerSpec, Manifest } from './manifest.js';

/** Every container of a manifest with its pod (or null) and its path in the file. */
export function manifestContainers(
  m: Manifest,
): { name: string; pod: string | null; spec: ContainerSpec; path: string[] }[] {
  const out: { name: string; pod: string | null; spec: ContainerSpec; path: string[] }[] = [];
  for (const [pod, p] of Object.entries(m.pods)) {
    for (const [name, spec] of Object.entries(p.containers))
      out.push({ name, pod, spec, path: ['pods', pod, 'containers', name] });
  }
  for (const [name, spec] of Object.entries(m.containers))
    out.push({ name, pod: null, spec, path: ['containers', name] });
  return out;
}
