// Errors from libraries can carry stack-like detail on later lines (gRPC, JSON.parse): an
// operator reads the first one.

export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}
