// The payload codec alone, then on the real dev server: nothing personal may reach history in clear.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import {
  ApplicationFailure,
  METADATA_ENCODING_KEY,
  defaultPayloadConverter,
  type Payload,
} from '@temporalio/common';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDataConverter, FAILURE_CONVERTER_PATH } from '../src/codec/data-converter';
import {
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  METADATA_ENCRYPTION_KEY_ID,
  PayloadDecryptionError,
} from '../src/codec/encryption-codec';
import { createKeyring, type Keyring } from '../src/crypto/keyring';
import type { EchoActivities, EchoInput } from './fixtures/echo-workflow';
import type { TestNamespace } from './support/namespaces';

const PHONE = '+15550147721';
const MARKER = 'marker-codec-3f9d2c71';

const oldKey = { kid: 'codec-2024', key: randomBytes(32) };
const newKey = { kid: 'codec-2025', key: randomBytes(32) };

const text = (bytes: Uint8Array | null | undefined) =>
  Buffer.from(bytes ?? new Uint8Array()).toString('utf8');

function samplePayloads(): Payload[] {
  return [
    defaultPayloadConverter.toPayload({ displayPhoneNumber: PHONE, note: MARKER }),
    defaultPayloadConverter.toPayload(new Uint8Array([0, 1, 2, 255])),
    defaultPayloadConverter.toPayload(undefined),
  ];
}

function comparable(payloads: Payload[]) {
  return payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, text(v)])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  }));
}

async function rejection(promise: Promise<unknown>): Promise<PayloadDecryptionError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PayloadDecryptionError);
  return err as PayloadDecryptionError;
}

describe('EncryptionCodec', () => {
  const codec = new EncryptionCodec(createKeyring([newKey, oldKey]));

  it('round-trips payloads of every kind', async () => {
    const original = samplePayloads();
    const decoded = await codec.decode(await codec.encode(original));
    expect(comparable(decoded)).toEqual(comparable(original));
    expect(defaultPayloadConverter.fromPayload(decoded[0]!)).toEqual({
      displayPhoneNumber: PHONE,
      note: MARKER,
    });
  });

  it('leaves no plaintext and no original metadata in the encoded payload', async () => {
    const [encoded] = await codec.encode(samplePayloads().slice(0, 1));
    const bytes = Buffer.from(temporal.api.common.v1.Payload.encode(encoded!).finish());
    expect(bytes.includes(MARKER)).toBe(false);
    expect(bytes.includes(PHONE)).toBe(false);
    expect(bytes.includes('json/plain')).toBe(false);
    expect(text(encoded!.metadata?.[METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
    expect(text(encoded!.metadata?.[METADATA_ENCRYPTION_KEY_ID])).toBe(newKey.kid);
    expect(Object.keys(encoded!.metadata ?? {}).sort()).toEqual([
      METADATA_ENCODING_KEY,
      METADATA_ENCRYPTION_KEY_ID,
    ]);
  });

  it('decrypts under a retired key after rotation, and encrypts under the new one', async () => {
    const before = new EncryptionCodec(createKeyring([oldKey]));
    const after = new EncryptionCodec(createKeyring([newKey, oldKey]));
    const sealedBefore = await before.encode(samplePayloads());
    expect(comparable(await after.decode(sealedBefore))).toEqual(comparable(samplePayloads()));

    const sealedAfter = await after.encode(samplePayloads());
    expect(sealedAfter.map((p) => text(p.metadata?.[METADATA_ENCRYPTION_KEY_ID]))).toEqual([
      newKey.kid,
      newKey.kid,
      newKey.kid,
    ]);
    // A process still on the old keyring cannot read what the new key wrote.
    const err = await rejection(before.decode(sealedAfter));
    expect(err.code).toBe('UNKNOWN_KEY_ID');
  });

  it('refuses a tampered ciphertext instead of returning garbage', async () => {
    const [encoded] = await codec.encode(samplePayloads().slice(0, 1));
    const data = Buffer.from(encoded!.data!);
    data[20] = data[20]! ^ 0x01;
    const err = await rejection(codec.decode([{ ...encoded!, data }]));
    expect(err.code).toBe('DECRYPT_FAILED');
    expect(err.message).toContain(newKey.kid);
  });

  it('refuses a payload whose key id was swapped for another known key', async () => {
    const [encoded] = await codec.encode(samplePayloads().slice(0, 1));
    const swapped = {
      ...encoded!,
      metadata: { ...encoded!.metadata, [METADATA_ENCRYPTION_KEY_ID]: Buffer.from(oldKey.kid) },
    };
    expect((await rejection(codec.decode([swapped]))).code).toBe('DECRYPT_FAILED');
  });

  it('names an unknown key id', async () => {
    const stranger = new EncryptionCodec(createKeyring([{ kid: 'elsewhere-1', key: randomBytes(32) }]));
    const err = await rejection(codec.decode(await stranger.encode(samplePayloads().slice(0, 1))));
    expect(err.code).toBe('UNKNOWN_KEY_ID');
    expect(err.message).toContain('"elsewhere-1"');
  });

  it('refuses an encrypted payload without a key id', async () => {
    const [encoded] = await codec.encode(samplePayloads().slice(0, 1));
    const noKid = {
      data: encoded!.data,
      metadata: { [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING) },
    };
    expect((await rejection(codec.decode([noKid]))).code).toBe('MALFORMED_PAYLOAD');
  });

  it('passes payloads it did not encrypt through decode untouched', async () => {
    const plain = samplePayloads();
    const decoded = await codec.decode(plain);
    expect(decoded).toHaveLength(plain.length);
    decoded.forEach((p, i) => expect(p).toBe(plain[i]));
  });
});

describe('createDataConverter', () => {
  it('encrypts payloads and moves failure messages into encoded attributes', async () => {
    const keyring = createKeyring([newKey]);
    const converter = createDataConverter(keyring);
    expect(converter.payloadCodecs?.[0]).toBeInstanceOf(EncryptionCodec);
    expect(existsSync(FAILURE_CONVERTER_PATH)).toBe(true);
    // Loaded the way Client and Worker load it: by path, with Node's require.
    const loaded = loadDataConverter(converter);
    const failure = loaded.failureConverter.errorToFailure(
      ApplicationFailure.create({ message: `cannot onboard ${PHONE}` }),
      loaded.payloadConverter,
    );
    expect(failure.message).not.toContain(PHONE);
    expect(failure.encodedAttributes).toBeTruthy();
  });
});

/** Every byte string of the history as text, and the history's wire form: where plaintext would show. */
function leaks(history: temporal.api.history.v1.IHistory, secret: string): boolean {
  const json = JSON.stringify(history, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    return raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : value;
  });
  const wire = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
  return (
    json.includes(secret) ||
    wire.includes(secret) ||
    payloadsOf(history).some((p) => text(p.data).includes(secret))
  );
}

function payloadsOf(node: unknown, found: Payload[] = []): Payload[] {
  if (node === null || typeof node !== 'object' || node instanceof Uint8Array) return found;
  const record = node as Record<string, unknown>;
  if ('metadata' in record && 'data' in record) found.push(record);
  for (const value of Object.values(record)) payloadsOf(value, found);
  return found;
}

describe('payloads in a real Temporal history', () => {
  const namespace: TestNamespace = 'secrets';
  const taskQueue = `codec-e2e-${randomUUID()}`;
  let keyring: Keyring;
  let workerConnection: NativeConnection;
  let clientConnection: Connection;
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;

  const activities: EchoActivities = {
    async echoActivity(input) {
      if (input.fail === 'activity') {
        throw ApplicationFailure.nonRetryable(
          `Graph refused ${input.displayPhoneNumber}: ${input.note}`,
          'EchoRefused',
        );
      }
      return input;
    },
  };

  beforeAll(async () => {
    keyring = createKeyring([{ kid: 'e2e-1', key: randomBytes(32) }]);
    workerConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
    worker = await Worker.create({
      connection: workerConnection,
      namespace,
      taskQueue,
      workflowsPath: join(__dirname, 'fixtures', 'echo-workflow.ts'),
      activities,
      dataConverter: createDataConverter(keyring),
    });
    running = worker.run();
    clientConnection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({
      connection: clientConnection,
      namespace,
      dataConverter: createDataConverter(keyring),
    });
  });

  afterAll(async () => {
    if (worker) {
      worker.shutdown();
      await running;
    }
    await workerConnection?.close();
    await clientConnection?.close();
  });

  const start = (input: EchoInput) =>
    client.workflow.start('echoWorkflow', {
      taskQueue,
      workflowId: `codec-e2e-${randomUUID()}`,
      args: [input],
    });

  it('the leak check finds plaintext when there is some', () => {
    const clear = defaultPayloadConverter.toPayload({ displayPhoneNumber: PHONE, note: MARKER });
    const history = {
      events: [{ workflowExecutionStartedEventAttributes: { input: { payloads: [clear] } } }],
    };
    expect(leaks(history, MARKER)).toBe(true);
  });

  it('keeps inputs and results encrypted in history and decodes them for the client', async () => {
    const input: EchoInput = { displayPhoneNumber: PHONE, note: MARKER };
    const handle = await start(input);
    expect(await handle.result()).toEqual({ echoed: input });

    const history = await handle.fetchHistory();
    expect(leaks(history, MARKER)).toBe(false);
    expect(leaks(history, PHONE)).toBe(false);
    const payloads = payloadsOf(history);
    // Workflow input, activity input, activity result, workflow result.
    expect(payloads.length).toBeGreaterThanOrEqual(4);
    for (const payload of payloads) {
      expect(text(payload.metadata?.[METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
      expect(text(payload.metadata?.[METADATA_ENCRYPTION_KEY_ID])).toBe('e2e-1');
    }
  });

  it.each(['workflow', 'activity'] as const)(
    'keeps the message of a %s failure out of history in clear',
    async (fail) => {
      const handle = await start({ displayPhoneNumber: PHONE, note: MARKER, fail });
      const err: unknown = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      // Through the codec the message is whole again, innermost cause included.
      let cause: unknown = (err as WorkflowFailedError).cause;
      while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).message).toContain(MARKER);
      expect((cause as ApplicationFailure).type).toBe('EchoRefused');

      const history = await handle.fetchHistory();
      expect(leaks(history, MARKER)).toBe(false);
      expect(leaks(history, PHONE)).toBe(false);
      const failed = history.events?.find((e) => e.workflowExecutionFailedEventAttributes);
      expect(failed?.workflowExecutionFailedEventAttributes?.failure?.encodedAttributes).toBeTruthy();
    },
  );
});
