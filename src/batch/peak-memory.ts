// The starter's --stats memory figure: the process's peak RSS, sampled while the batch runs.

export class PeakMemory {
  readonly before = process.memoryUsage.rss();
  private highest = this.before;

  sample(): void {
    this.highest = Math.max(this.highest, process.memoryUsage.rss());
  }

  get peak(): number {
    return this.highest;
  }
}
