// The worker's one Runtime.install: its logger (our line logger, which the SDK's native core logs
// are forwarded to, so every line has one format and LOG_LEVEL governs them all) and, when asked,
// the SDK's own Prometheus exporter, which serves the SDK's worker metrics and the product's.
import { Runtime, type LogLevel } from '@temporalio/worker';
import { ConfigError } from '../config/env-reader';
import type { LineLogger } from '../logging/line-logger';
import type { LogLevelName } from '../logging/log-format';
import { LOG_LEVELS } from '../logging/log-format';
import { ANNOUNCED_WAIT_BUCKETS_SECONDS, DURATION_BUCKETS_SECONDS, PRODUCT_METRICS } from './metric-names';

export interface RuntimeTelemetryOptions {
  logger: LineLogger;
  level: LogLevelName;
  /** Serve /metrics here (METRICS_BIND_ADDRESS); no exporter when undefined. */
  metricsBindAddress?: string;
}

/** Native libraries under the SDK core (gRPC, HTTP) are chatty below WARN. */
function otherNativeLevel(level: LogLevelName): LogLevel {
  return LOG_LEVELS.indexOf(level) > LOG_LEVELS.indexOf('WARN') ? level : 'WARN';
}

export function installRuntimeTelemetry(options: RuntimeTelemetryOptions): void {
  const { metricsBindAddress } = options;
  try {
    Runtime.install({
      logger: options.logger,
      telemetryOptions: {
        logging: { filter: { core: options.level, other: otherNativeLevel(options.level) }, forward: {} },
        ...(metricsBindAddress
          ? {
              metrics: {
                prometheus: {
                  bindAddress: metricsBindAddress,
                  // Prometheus conventions: counters end in _total, durations are in seconds.
                  countersTotalSuffix: true,
                  useSecondsForDurations: true,
                  histogramBucketOverrides: {
                    [PRODUCT_METRICS.duration.name]: DURATION_BUCKETS_SECONDS,
                    [PRODUCT_METRICS.graphAnnouncedWait.name]: ANNOUNCED_WAIT_BUCKETS_SECONDS,
                  },
                },
              },
            }
          : {}),
      },
    });
  } catch (err) {
    if (metricsBindAddress) {
      throw new ConfigError(
        'METRICS_BIND_ADDRESS',
        `could not serve metrics on ${metricsBindAddress}: ${(err as Error).message.split('\n')[0]}`,
      );
    }
    throw err;
  }
}
