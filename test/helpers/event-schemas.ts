/** The published JSON Schemas (`schemas/`), loaded once into Ajv, keyed by detail-type. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { type BusEvent, DetailType, detailJson } from '#core/bus-events.js';

const dir = join(import.meta.dirname, '../../schemas');
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
export const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
for (const f of readdirSync(dir)) ajv.addSchema(JSON.parse(readFileSync(join(dir, f), 'utf8')), f);

export const schemaFor: Record<string, string> = {
  [DetailType.ConversationStarted]: 'conversation-started.json',
  [DetailType.ConversationEnded]: 'conversation-ended.json',
  [DetailType.ConversationCompleted]: 'conversation-completed.json',
  [DetailType.ConversationUpdated]: 'conversation-updated.json',
  [DetailType.ConversationEscalated]: 'conversation-escalated.json',
  [DetailType.ConversationAlert]: 'conversation-alert.json',
  [DetailType.PlatformAlert]: 'platform-alert.json',
  [DetailType.ThreeToneEvent]: 'threetone-event.json',
  [DetailType.ConversationErased]: 'conversation-erased.json',
};

/** Ajv's errors when the event's detail, as a consumer parses its `Detail` text, breaks its schema; `null` when valid. */
export function schemaErrors(e: BusEvent): string | null {
  const file = schemaFor[e.detailType];
  if (!file) return `no schema for ${e.detailType}`;
  return ajv.validate(file, JSON.parse(detailJson(e))) ? null : ajv.errorsText();
}
