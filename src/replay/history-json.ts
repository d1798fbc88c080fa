// Workflow histories to and from the JSON the Temporal Web UI downloads and
// `temporal workflow show --output json` prints (proto3 JSON; enum values either in full,
// EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, or short, WorkflowExecutionStarted).
//
// Why not @temporalio/common's historyFromJSON / historyToJSON: they hand message types built by
// @temporalio/proto's copy of protobufjs to @temporalio/common's copy, whose protojson checks
// `instanceof Type`. When npm installs the two as separate copies (it does here, beside an older
// top-level protobufjs), that check fails with "type must be a Type". So protojson is loaded from
// the very protobufjs @temporalio/proto uses, wherever npm put it.
import { createRequire } from 'node:module';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

export type History = proto.temporal.api.history.v1.IHistory;

interface ReflectEnum {
  values: Record<string, number>;
}
interface ReflectField {
  resolve(): ReflectField;
  resolvedType: ReflectType | ReflectEnum | null;
}
interface ReflectType {
  fields: Record<string, ReflectField>;
}
interface ProtoJson {
  fromJson(type: ReflectType, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
  toJson(type: ReflectType, message: unknown): unknown;
}

const protoRequire = createRequire(require.resolve('@temporalio/proto'));
const protojson = protoRequire('protobufjs/ext/protojson') as ProtoJson;
// The root through Node's own require: an ESM namespace object (as test runners hand out for
// `import * as`) hides the nested namespaces protobufjs looks types up in.
const root = patchProtobufRoot(protoRequire('@temporalio/proto') as Record<string, unknown>) as unknown as {
  lookupType(name: string): ReflectType;
};
const historyType = root.lookupType('temporal.api.history.v1.History');

function isEnum(t: ReflectType | ReflectEnum | null): t is ReflectEnum {
  return t !== null && 'values' in t;
}

/** "WorkflowExecutionStarted" -> "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED", guided by the enum's own names. */
function fullEnumName(e: ReflectEnum, value: string): string {
  if (value in e.values) return value;
  const unspecified = Object.keys(e.values).find((name) => name.endsWith('_UNSPECIFIED'));
  if (!unspecified) return value;
  const prefix = unspecified.slice(0, -'UNSPECIFIED'.length);
  const full = `${prefix}${value.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
  return full in e.values ? full : value;
}

/** Rewrites short enum names to full ones, walking the JSON along the message type. */
function withFullEnumNames(type: ReflectType, json: unknown): unknown {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return json;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const resolved = type.fields[key]?.resolve().resolvedType ?? null;
    const convert = (v: unknown): unknown =>
      resolved === null
        ? v
        : isEnum(resolved)
          ? typeof v === 'string'
            ? fullEnumName(resolved, v)
            : v
          : withFullEnumNames(resolved, v);
    out[key] = Array.isArray(value) ? value.map(convert) : convert(value);
  }
  return out;
}

export function historyFromJson(json: unknown): History {
  if (json === null || typeof json !== 'object' || !Array.isArray((json as { events?: unknown }).events)) {
    throw new TypeError('expected an object with an array of events');
  }
  // Fields a newer server or CLI added are ignored, as Temporal's own tools do.
  return protojson.fromJson(historyType, withFullEnumNames(historyType, json), {
    ignoreUnknownFields: true,
  }) as History;
}

export function historyToJson(history: History): unknown {
  return protojson.toJson(historyType, proto.temporal.api.history.v1.History.fromObject(history));
}
