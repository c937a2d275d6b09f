// The one way the browser tests start Chromium: Debian's /usr/bin/chromium
// (CHROMIUM overrides it) driven by playwright-core, headless, with the
// flags a container without a GPU, /dev/shm space or a sandbox needs and
// nothing that would reach the network on its own.
import { chromium } from 'playwright-core';

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
}
