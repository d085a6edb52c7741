import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { SHUTDOWN_MARGIN_MS } from '../src/shutdown.js';
import { waitFor } from './support/collect.js';
import { freePort } from './support/instances.js';

// No Docker engine runs here: check what `docker build` and the container's CMD depend on.
const dockerfile = readFileSync('Dockerfile', 'utf8');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * fly.toml's tables by header (`[env]`, `[[mounts]]`, `[http_service.concurrency]`, `` for the top),
 * each a map of its `key = value` lines (quotes removed). Enough for the flat file quire keeps.
 */
function flyToml(): Record<string, Record<string, string>> {
  const tables: Record<string, Record<string, string>> = { '': {} };
  let current = tables['']!;
  for (const raw of readFileSync('fly.toml', 'utf8').split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      current = tables[header[1]!] ??= {};
      continue;
    }
    const pair = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$/.exec(line);
    if (pair) current[pair[1]!] = pair[2]!.replace(/^"(.*)"$/, '$1');
  }
  return tables;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : /\.(ts|js)$/.test(name) ? [path] : [];
  });
}

describe('Dockerfile and fly.toml', () => {
  it('every file the Dockerfile copies from the repository exists', () => {
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    expect(copies.length).toBeGreaterThan(3);
    for (const sources of copies) for (const source of sources) expect(existsSync(source), `${source} is copied but missing`).toBe(true);
  });

  it('.dockerignore keeps local data, modules, build and test output and git out of the build context, never what is copied', () => {
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const entry of ['.git', 'data', 'node_modules', 'dist', 'test-output']) expect(ignored).toContain(entry);
    // Whatever git ignores (local output) stays out of the image's context too.
    for (const line of readFileSync('.gitignore', 'utf8').split('\n').map((l) => l.trim()).filter(Boolean)) {
      expect(ignored, `.gitignore's ${line}`).toContain(line.replace(/\/$/, ''));
    }
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    for (const source of copied) for (const entry of ignored) expect(source === entry || source.startsWith(`${entry}/`), `${source} is ignored by ${entry}`).toBe(false);
  });

  it('the image runs quire as an unprivileged user that can write the volume mounted at DATA_DIR', () => {
    expect(dockerfile).toMatch(/^ENTRYPOINT \["bin\/docker-entrypoint\.sh"\]$/m);
    expect(statSync('bin/docker-entrypoint.sh').mode & 0o111).not.toBe(0);
    // A mount as it arrives: owned by root (who runs CI), holding a file from an earlier image.
    const dataDir = mkdtempSync(join(tmpdir(), 'quire-mount-'));
    dirs.push(dataDir);
    mkdirSync(join(dataDir, 'reports'));
    writeFileSync(join(dataDir, 'reports', 'earlier.pdf'), '%PDF');
    const out = execFileSync('bin/docker-entrypoint.sh', ['sh', '-c', 'id -u; touch "$DATA_DIR/new" "$REPORTS_DIR/earlier.pdf" && echo wrote'], {
      // The image's user is `node`; this machine has none, so the test hands the mount to `nobody`.
      env: { ...process.env, DATA_DIR: dataDir, REPORTS_DIR: join(dataDir, 'reports'), QUIRE_USER: 'nobody' },
      encoding: 'utf8',
    });
    const unprivileged = process.getuid!() === 0 ? Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })) : process.getuid!();
    expect(out.trim().split('\n')).toEqual([String(unprivileged), 'wrote']);
    expect(unprivileged).not.toBe(0);
  });

  it('the runtime imports only production dependencies (the image omits devDependencies)', () => {
    const packages = new Set<string>();
    // src/ui is browser code that Vite bundles in the image's build stage: not imported at run time.
    for (const file of [...sourceFiles('src').filter((f) => !f.startsWith(join('src', 'ui'))), ...sourceFiles('bin'), ...sourceFiles('db')]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^'.][^']*)'|import\('([^'.][^']*)'\)/g)) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('node:')) continue;
        if (/^import\s+type\b/.test(m[0].trim())) continue;
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    const notInProduction = [...packages].filter((p) => !(p in pkg.dependencies));
    expect(notInProduction).toEqual([]);
  });

  it('the progress page is built in a stage with dev dependencies, and only dist/ui reaches the image', () => {
    const stages = dockerfile.split(/^FROM /m).slice(1);
    const ui = stages.find((s) => /^\S+ AS ui\b/.test(s));
    expect(ui, 'a build stage named ui').toBeDefined();
    expect(ui).toMatch(/^RUN npm ci\b(?!.*--omit=dev)/m);
    expect(ui).toMatch(/^RUN npm run build:ui$/m);
    // Every folder the page imports from outside src/ui (src/shared) is copied into that stage too.
    const outside = new Set<string>();
    for (const file of sourceFiles(join('src', 'ui'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/from '\.\.\/([^/']+)\//g)) outside.add(m[1]!);
    }
    expect([...outside]).toContain('shared');
    for (const dir of outside) expect(ui).toMatch(new RegExp(`^COPY src/${dir} \\./src/${dir}$`, 'm'));
    expect(pkg.devDependencies).toHaveProperty('vite');
    const final = stages.at(-1)!;
    expect(final).toMatch(/^COPY --from=ui \/app\/dist\/ui \.\/dist\/ui$/m);
    expect((JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts['build:ui']).toMatch(/vite build/);
  });

  it('the image’s CMD starts quire in production mode and answers its HEALTHCHECK route', async () => {
    const cmd = JSON.parse(/^CMD (\[.+\])$/m.exec(dockerfile)![1]!) as string[];
    expect(cmd).toEqual(['node', 'bin/quire.js', 'serve']);
    const dataDir = mkdtempSync(join(tmpdir(), 'quire-image-'));
    dirs.push(dataDir);
    // A port the OS just handed out: a random one collided with another suite's server (quire exited, port in use).
    const port = await freePort();
    const { DATABASE_URL: _, ...env } = process.env;
    const child = spawn(process.execPath, cmd.slice(1), {
      env: {
        ...env,
        NODE_ENV: 'production',
        AUTH_SECRET: 'deploy-test-secret-deploy-test-secret-0123',
        SEAL_SIGNING_KEY: 'A'.repeat(43),
        DATA_ENCRYPTION_KEY: 'deploy-test-data-key-deploy-test-data-key',
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        REPORTS_DIR: join(dataDir, 'reports'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      // A start that fails ends the wait at once, with what quire printed.
      const early = await Promise.race([waitFor(() => out.includes('quire listening'), 100_000, 'quire to listen').then(() => undefined), exited]);
      expect(early, `quire exited before listening:\n${out}`).toBeUndefined();
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      // The built progress page (vitest's globalSetup built dist/ui), without a dev token.
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).not.toContain('quire-dev-token');
      // Production: no dev token printed, introspection off.
      expect(out).not.toContain('Dev token');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    // A cold production start loads every module through tsx: under the whole suite on 2 cores it has taken over 45 s.
  }, 120_000);

  it('fly.toml mounts a volume per machine, runs migrations on release and checks /readyz', () => {
    const fly = flyToml();
    expect(fly['']!.primary_region).toBe('iad');
    expect(fly['mounts']).toEqual({ source: 'reports_data', destination: '/data' });
    expect(fly['env']!.REPORTS_DIR).toBe('/data/reports');
    expect(fly['deploy']!.release_command).toBe('node bin/quire.js db migrate');
    // Readiness turns false when shutdown begins: the proxy stops routing to a machine going away.
    expect(fly['http_service.checks']!.path).toBe('/readyz');
  });

  it('fly.toml lets the shutdown drain finish: kill_timeout is longer than SHUTDOWN_DRAIN_MS plus the exit margin', () => {
    const fly = flyToml();
    expect(['SIGTERM', 'SIGINT']).toContain(fly['']!.kill_signal);
    const killTimeout = /^(\d+)s?$/.exec(fly['']!.kill_timeout ?? '');
    expect(killTimeout, 'kill_timeout in seconds').not.toBeNull();
    const drainMs = loadConfig({ ...fly['env'], AUTH_SECRET: 'x'.repeat(32), SEAL_SIGNING_KEY: 'A'.repeat(43), DATA_ENCRYPTION_KEY: 'k'.repeat(32) }).shutdownDrainMs;
    expect(fly['env']!.SHUTDOWN_DRAIN_MS).toBe(String(drainMs));
    expect(Number(killTimeout![1]) * 1000).toBeGreaterThan(drainMs + SHUTDOWN_MARGIN_MS);
    // Fly allows at most 300 s.
    expect(Number(killTimeout![1])).toBeLessThanOrEqual(300);
  });

  it('fly.toml counts connections with no hard limit, scrapes metrics on the internal port, keeps machines with volumes running', () => {
    const fly = flyToml();
    expect(fly['http_service.concurrency']!.type).toBe('connections');
    expect(fly['http_service.concurrency']).not.toHaveProperty('hard_limit');
    expect(fly['http_service']!.auto_stop_machines).toBe('off');
    // The scraper's port is the one quire serves metrics on when it runs on Fly, and not the public one.
    const config = loadConfig({ ...fly['env'], FLY_APP_NAME: 'quire', AUTH_SECRET: 'x'.repeat(32), SEAL_SIGNING_KEY: 'A'.repeat(43), DATA_ENCRYPTION_KEY: 'k'.repeat(32) });
    expect(fly['metrics']).toEqual({ port: String(config.metrics.port), path: '/metrics' });
    expect(config.metrics.port).not.toBe(Number(fly['http_service']!.internal_port));
    expect(config.metrics.host).toBe('::');
  });
});
