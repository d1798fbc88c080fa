// Graph API settings from the environment, checked at start-up so that a missing token or a typo in
// the version fails the worker with one line naming the variable, not an activity hours later.
import { ConfigError, EnvReader, type Env } from '../config/env-reader';
import { loadGraphTokenConfig, type GraphTokenConfig } from './graph-token-config';

export const DEFAULT_GRAPH_BASE_URL = 'https://graph.facebook.com';
/** The newest Graph version this code was checked against (v25.0 lives until 2028-07-29). */
export const DEFAULT_GRAPH_API_VERSION = 'v25.0';
export const GRAPH_API_VERSION_PATTERN = /^v\d+\.\d+$/;
/** The token the Graph sandbox accepts unless told otherwise; meaningless anywhere else. */
export const SANDBOX_ACCESS_TOKEN = 'sandbox-token';

export interface GraphConfig {
  baseUrl: string;
  apiVersion: string;
  /**
   * GRAPH_ACCESS_TOKEN: the one token of `tokens.source` env. Undefined only with
   * GRAPH_TOKEN_SOURCE=vault and no GRAPH_ACCESS_TOKEN: then every call uses its tenant's token.
   */
  accessToken: string | undefined;
  /** Where each call's token comes from (GRAPH_TOKEN_SOURCE and its settings). */
  tokens: GraphTokenConfig;
  /** Global cap across all workers (the whatsapp-graph task queue's rate limit). */
  maxRequestsPerSecond: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** True when the base URL is a loopback address: the Graph sandbox, not Meta. */
  isSandbox: boolean;
}

export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function loadGraphConfig(env: Env = process.env): GraphConfig {
  const read = new EnvReader(env);
  const baseUrl = read.url('GRAPH_BASE_URL', DEFAULT_GRAPH_BASE_URL);
  const isSandbox = isLoopbackUrl(baseUrl);
  const apiVersion =
    read.matching(
      'GRAPH_API_VERSION',
      GRAPH_API_VERSION_PATTERN,
      'a Graph version like v25.0',
      DEFAULT_GRAPH_API_VERSION,
    ) ?? DEFAULT_GRAPH_API_VERSION;

  const tokens = loadGraphTokenConfig(env);
  const accessToken = isSandbox
    ? (read.optional('GRAPH_ACCESS_TOKEN') ?? SANDBOX_ACCESS_TOKEN)
    : tokens.source === 'vault'
      ? read.optional('GRAPH_ACCESS_TOKEN')
      : read.required(
          'GRAPH_ACCESS_TOKEN',
          'give the system-user access token (only a loopback GRAPH_BASE_URL, the sandbox, runs without one; with GRAPH_TOKEN_SOURCE=vault each tenant has its own)',
        );
  // Checked here because undici would reject it later with a less helpful error; the value itself
  // is never echoed.
  if (accessToken !== undefined && !/^[\x21-\x7e]+$/.test(accessToken)) {
    throw new ConfigError(
      'GRAPH_ACCESS_TOKEN',
      'contains spaces or non-printable characters (value not shown)',
    );
  }

  return {
    baseUrl,
    apiVersion,
    accessToken,
    tokens,
    maxRequestsPerSecond: read.positiveNumber('GRAPH_MAX_REQUESTS_PER_SECOND', 10),
    headersTimeoutMs: wholeMs(read, 'GRAPH_HEADERS_TIMEOUT_MS', 20_000),
    bodyTimeoutMs: wholeMs(read, 'GRAPH_BODY_TIMEOUT_MS', 20_000),
    isSandbox,
  };
}

function wholeMs(read: EnvReader, name: string, fallback: number): number {
  const value = read.positiveNumber(name, fallback);
  if (!Number.isInteger(value))
    throw new ConfigError(name, `must be a whole number of milliseconds (got ${value})`);
  return value;
}
