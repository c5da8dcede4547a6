#!/usr/bin/env bash
# stats.sh FILE — p50 and p95 (nearest rank) of the numbers in FILE, one per line.
sort -n "$1" | awk '{v[NR]=$1} END {
  if (NR == 0) { print "nan nan"; exit }
  p50 = v[int((NR - 1) * 0.50) + 1]; p95 = v[int((NR - 1) * 0.95 + 0.999) + 1 > NR ? NR : int((NR - 1) * 0.95 + 0.999) + 1]
  printf "%.1f %.1f\n", p50, p95 }'
