// Failure messages and stack traces go into the failure's encoded attributes, so the payload codec
// encrypts them too: an error quoting a phone number must not land in history in clear.
//
// Loaded by path (Temporal's DataConverter takes a failureConverterPath, bundled into the workflow
// sandbox and require()d by clients and workers), so this file keeps to syntax that is valid
// JavaScript as well: Node can then load it from source even without a TypeScript loader.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
