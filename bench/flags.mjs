// flags.mjs — the Chromium that the benchmarks' baselines launch themselves:
// the binary bulkhead's sessions run by default (Debian's headless shell;
// BENCH_BROWSER names another, for a daemon given --browser) with the flags
// bulkhead gives its sessions' browsers, so a ratio compares bulkhead's cost,
// not a different browser setup.
export const CHROMIUM = process.env.BENCH_BROWSER || '/usr/lib/chromium/chromium-headless-shell';

export function browserFlags(width = 1280, height = 720) {
  return ['--disable-gpu', '--no-first-run', '--no-default-browser-check',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater',
    '--no-pings', '--disable-back-forward-cache', '--disable-renderer-backgrounding',
    '--disable-background-timer-throttling', '--disable-backgrounding-occluded-windows',
    '--disable-ipc-flooding-protection',
    '--disable-breakpad', '--disable-domain-reliability', '--disable-client-side-phishing-detection',
    '--disable-default-apps', '--metrics-recording-only', '--password-store=basic', '--mute-audio',
    '--hide-scrollbars', `--window-size=${width},${height}`];
}
