#!/usr/bin/env node
// The live page's browser test drives a Chromium with playwright-core, which downloads no browser.
// On a fresh Debian/Ubuntu machine run as root, install Debian's `chromium`; otherwise say what to do.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

const path = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const present = () => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};
if (present()) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (isRoot && hasApt && !process.env.CHROMIUM_PATH) {
  console.log('Chromium not found: installing chromium (Debian package, ~350 MB) for the live page test…');
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    console.error('Installing Chromium failed. Install it yourself (or set CHROMIUM_PATH) and retry.');
    process.exit(1);
  }
  if (present()) process.exit(0);
}
console.error(`The browser test needs Chromium at ${path}: e.g. \`sudo apt-get install chromium\`, or set CHROMIUM_PATH.`);
process.exit(1);
