// Durations as people write them in flags and variables ("90s", "30m", "14d"), one grammar for all.

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s?(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "30s", "5m", "1.5h", "14d" -> milliseconds; undefined when not such a duration or not positive. */
export function durationToMs(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return ms > 0 && Number.isFinite(ms) ? ms : undefined;
}
