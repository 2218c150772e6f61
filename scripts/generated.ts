import { generateTypes, TYPES_FILE } from './types.js';
import { editorSchema, resourcesMarkdown } from './schema-tools.js';

/** Every generated file and its expected content. */
export async function generated(): Promise<{ file: URL; content: string }[]> {
  return [
    { file: TYPES_FILE, content: await generateTypes() },
    { file: new URL('../schemas/switchboard.schema.json', import.meta.url), content: `${JSON.stringify(editorSchema(), null, 2)}\n` },
    { file: new URL('../docs/resources.md', import.meta.url), content: resourcesMarkdown() },
  ];
}
