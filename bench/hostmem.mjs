// hostmem.mjs — the host's memory as the capacity and levers benchmarks read
// it: MemAvailable (settled: the median of 5 readings 200 ms apart, after a
// wait) and a process's PSS.
import fs from 'node:fs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const memAvailable = () => Number(fs.readFileSync('/proc/meminfo', 'utf8').match(/^MemAvailable:\s+(\d+) kB/m)[1]) * 1024;

export async function settledMemAvailable(ms) {
  await sleep(ms);
  const v = [];
  for (let i = 0; i < 5; i++, await sleep(200)) v.push(memAvailable());
  return v.sort((a, b) => a - b)[2];
}

// bytes; 0 for a process gone meanwhile
export function pssBytes(pid) {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+) kB/m)[1]) * 1024;
  } catch { return 0; }
}
