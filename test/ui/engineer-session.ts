// An on-call engineer's browser for the UI test: Debian's Chromium driven by playwright-core,
// with every click counted, a screenshot per step, and the text of every frame (the UI renders
// summaries and details in iframes) kept for the check that no PIN is ever on screen.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags these machines need: no GPU, no sandbox as root, and a /dev/shm that is small. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
];

export interface StepText {
  step: string;
  text: string;
}

export class EngineerSession {
  clicks = 0;
  readonly texts: StepText[] = [];

  private constructor(
    private readonly browser: Browser,
    readonly page: Page,
    private readonly screenshotDir: string,
  ) {}

  static async open(screenshotDir: string): Promise<EngineerSession> {
    rmSync(screenshotDir, { recursive: true, force: true });
    mkdirSync(screenshotDir, { recursive: true });
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_FLAGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    // The Temporal UI polls for ever: wait for elements, never for the network to go idle.
    page.setDefaultTimeout(30_000);
    return new EngineerSession(browser, page, screenshotDir);
  }

  async click(target: Locator): Promise<void> {
    await target.click();
    this.clicks++;
  }

  /** The browser's reload button: one click. */
  async reload(): Promise<void> {
    await this.page.reload();
    this.clicks++;
  }

  /** Everything the engineer can read, from the page and each of its frames. */
  async visibleText(): Promise<string> {
    const parts: string[] = [];
    for (const frame of this.page.frames()) {
      parts.push(
        await frame
          .locator('body')
          .innerText({ timeout: 5_000 })
          .catch(() => ''),
      );
    }
    return parts.join('\n');
  }

  /** Saves `NN-name.png` and keeps the step's text. */
  async capture(name: string): Promise<string> {
    const file = join(this.screenshotDir, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    this.texts.push({ step: name, text: await this.visibleText() });
    return file;
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM_PATH);
}
