#!/usr/bin/env node
// DynamoDB Local (the embedded engine of `npm start` and the tests) needs Java 17+. On a fresh
// Debian/Ubuntu machine run as root, install it from Debian's packages; otherwise say what to do.
import { execFileSync, spawnSync } from 'node:child_process';

// `npm start` with DYNAMODB_ENDPOINT uses an existing DynamoDB and starts no Java (the tests still do).
if (process.env.npm_lifecycle_event === 'prestart' && process.env.DYNAMODB_ENDPOINT?.trim()) process.exit(0);

function javaMajor() {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  if (!m) return null;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

const major = javaMajor();
if (major !== null && major >= 17) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (isRoot && hasApt) {
  console.log('Java 17+ not found: installing default-jre-headless (Debian package) for DynamoDB Local…');
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'default-jre-headless'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    console.error('Installing Java failed. Install a Java 17+ runtime yourself and retry.');
    process.exit(1);
  }
  if ((javaMajor() ?? 0) >= 17) process.exit(0);
}
console.error(
  `DynamoDB Local needs a Java 17+ runtime (${major === null ? 'none found' : `found Java ${major}`}).\n` +
    'Install one, e.g. `sudo apt-get install default-jre-headless` or `brew install openjdk@17`, then retry.',
);
process.exit(1);
