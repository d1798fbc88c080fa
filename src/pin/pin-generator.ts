import { randomInt } from 'node:crypto';

/**
 * True for PINs a person would try first: one digit repeated (000000), a run up or down
 * (123456, 654321, also wrapping: 890123), or a short block repeated (121212, 123123).
 */
export function isGuessablePin(pin: string): boolean {
  const digits = [...pin].map(Number);
  const steps = digits.slice(1).map((d, i) => (d - (digits[i] ?? 0) + 10) % 10);
  if (steps.every((s) => s === 0) || steps.every((s) => s === 1) || steps.every((s) => s === 9)) return true;
  const repeats = (period: number) => digits.every((d, i) => i < period || d === digits[i - period]);
  return repeats(2) || repeats(3);
}

/** Six digits from the OS CSPRNG, as a string so leading zeros survive. */
export function generateTwoStepPin(): string {
  for (;;) {
    const pin = randomInt(0, 1_000_000).toString().padStart(6, '0');
    if (!isGuessablePin(pin)) return pin;
  }
}
