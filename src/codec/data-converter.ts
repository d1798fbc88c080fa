// The data converter every Client and Worker of the product uses: payloads encrypted by the
// EncryptionCodec, failure messages and stacks moved into encrypted attributes.
import { extname, join } from 'node:path';
import type { DataConverter } from '@temporalio/common';
import type { Keyring } from '../crypto/keyring';
import { EncryptionCodec } from './encryption-codec';

/**
 * The module exporting the failure converter. DataConverter accepts failure converters by path only
 * (the worker bundles it into the workflow sandbox); pass the same path to bundleWorkflowCode when
 * prebuilding a workflow bundle. The extension follows this file's, so it resolves both from
 * source (.ts) and from the compiled build (.js).
 */
export const FAILURE_CONVERTER_PATH = join(__dirname, `failure-converter${extname(__filename)}`);

/**
 * For Client and Worker options. Codecs run outside the workflow sandbox (in the worker's main
 * thread), which is why the keyring can be handed over as an object here.
 */
export function createDataConverter(keyring: Keyring): DataConverter {
  return {
    payloadCodecs: [new EncryptionCodec(keyring)],
    failureConverterPath: FAILURE_CONVERTER_PATH,
  };
}
