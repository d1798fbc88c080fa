// The alert rules, checked by Prometheus' own tool: syntax and PromQL (`promtool check rules`),
// then behaviour on synthetic series (`promtool test rules`, deploy/prometheus-rules.test.yml).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './support/process-runner';

const RULES = join(PROJECT_ROOT, 'deploy', 'prometheus-rules.yml');
const RULE_TESTS = join(PROJECT_ROOT, 'deploy', 'prometheus-rules.test.yml');
const scratch = mkdtempSync(join(tmpdir(), 'promtool-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function promtool(...args: string[]) {
  const run = spawnSync('promtool', args, { encoding: 'utf8', cwd: join(PROJECT_ROOT, 'deploy') });
  if (run.error)
    throw new Error(`promtool did not run (${run.error.message}): npm run setup:prometheus installs it`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('deploy/prometheus-rules.yml', () => {
  it('passes promtool check rules', () => {
    const { status, output } = promtool('check', 'rules', RULES);
    expect(output).toMatch(/SUCCESS: 8 rules found/);
    expect(status).toBe(0);
  });

  it('behaves as its unit tests say, for every alert (promtool test rules)', () => {
    const { status, output } = promtool('test', 'rules', RULE_TESTS);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
    const tested = new Set(
      [...readFileSync(RULE_TESTS, 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]),
    );
    const defined = [...readFileSync(RULES, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(defined.filter((a) => !tested.has(a))).toEqual([]);
  });

  it('is a check that can fail: a broken expression and a wrong expectation are caught', () => {
    const broken = join(scratch, 'broken-rules.yml');
    writeFileSync(
      broken,
      readFileSync(RULES, 'utf8').replace(
        'increase(whatsapp_onboarding_parked_total[15m])',
        'increase(whatsapp_onboarding_parked_total[15m]',
      ),
    );
    expect(promtool('check', 'rules', broken).status).not.toBe(0);

    copyFileSync(RULES, join(scratch, 'prometheus-rules.yml'));
    const wrong = join(scratch, 'wrong.test.yml');
    writeFileSync(wrong, readFileSync(RULE_TESTS, 'utf8').replace("'_x10 1x30 3x30'", "'0x70'"));
    const { status, output } = promtool('test', 'rules', wrong);
    expect(status).not.toBe(0);
    expect(output).toContain('OnboardingNumbersParked');
  });
});
