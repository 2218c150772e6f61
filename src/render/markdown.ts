/**
 * The plan as a pull-request comment: summary and impact first, then one collapsible section
 * per company and kind; kept under a size limit (GitHub refuses comments over 65,536
 * characters) with a note saying what was left out. Pure: Plan → string.
 */
import type { Plan, PlannedChange } from '../plan/types.js';
import { companyOf, factLine, fieldLine, header, list, summaryLine, SYMBOL } from './common.js';

export const MARKDOWN_LIMIT = 60_000;

/** Changes detailed per company/kind section; the rest are counted. */
const PER_SECTION = 100;

const esc = (s: string) => s.replace(/[|<>`]/g, (ch) => `\\${ch}`);

export function renderMarkdown(plan: Plan, limit = MARKDOWN_LIMIT): string {
  const head: string[] = [`### ${summaryLine(plan)}`, '', `<sub>${esc(header(plan))}</sub>`, ''];
  const s = plan.summary;
  if (plan.changes.length > 0) {
    head.push('| kind | create | update | replace | delete |', '| --- | ---: | ---: | ---: | ---: |');
    for (const [kind, c] of Object.entries(s.byKind)) head.push(`| ${kind} | ${c?.create ?? ''} | ${c?.update ?? ''} | ${c?.replace ?? ''} | ${c?.delete ?? ''} |`);
    head.push('');
  }
  const i = plan.impact;
  const impact: string[] = [];
  for (const r of i.restarts) impact.push(`- :warning: restarts **${esc(r.target)}** (${esc(r.reason)}): ${r.extensionsInterrupted} extension(s) lose supervision meanwhile`);
  if (i.supervisionStarts.length) impact.push(`- supervision starts for ${i.supervisionStarts.length} extension(s): ${esc(list(i.supervisionStarts))}`);
  if (i.supervisionStops.length) impact.push(`- supervision stops for ${i.supervisionStops.length} extension(s): ${esc(list(i.supervisionStops))}`);
  for (const n of i.notSupervised) impact.push(`- configured, not supervised (${esc(n.reason)}): ${n.extensions.length} extension(s): ${esc(list(n.extensions))}`);
  for (const l of i.licences) impact.push(`- ${esc(l.application)} licences in ${esc(l.company)}: ${l.before} → **${l.after}** of ${l.available}${l.after > l.available ? ' :x: over the licence: the runtime will refuse' : ''}`);
  for (const a of i.access) {
    if (a.gained.length) impact.push(`- ${a.gained.length} user(s) gain ${esc(a.application)}: ${esc(list(a.gained, 5))}`);
    if (a.lost.length) impact.push(`- ${a.lost.length} user(s) lose ${esc(a.application)}: ${esc(list(a.lost, 5))}`);
  }
  for (const r of i.syncReruns) impact.push(`- re-runs ${esc(r.target)} (${esc(r.reason)})`);
  for (const r of i.syncUnsupported) impact.push(`- :warning: does not synchronize ${esc(r.target)} (${esc(r.reason)})`);
  if (impact.length) head.push('**Impact on the running system**', '', ...impact, '');
  for (const w of plan.warnings) head.push(`> :warning: ${esc(w.message)}`, '');
  if (plan.unmanaged.length) head.push(`<sub>${plan.unmanaged.length} live resource(s) not managed by config are left alone.</sub>`, '');

  const groups = new Map<string, PlannedChange[]>();
  for (const c of plan.changes) {
    const key = `${companyOf(c)} — ${c.kind}`;
    const group = groups.get(key);
    if (group) group.push(c);
    else groups.set(key, [c]);
  }
  const sections: string[] = [];
  for (const [title, changes] of groups) {
    const tally: Record<string, number> = {};
    for (const c of changes) tally[c.action] = (tally[c.action] ?? 0) + 1;
    const counts = Object.entries(tally)
      .map(([a, n]) => `${n} ${a}`)
      .join(', ');
    const body: string[] = ['```diff'];
    for (const c of changes.slice(0, PER_SECTION)) {
      const sign = c.action === 'create' ? '+' : c.action === 'delete' ? '-' : '!';
      body.push(`${sign} ${SYMBOL[c.action]} ${c.action} ${c.kind} ${c.id}${c.action === 'replace' ? ` (${c.reason})` : ''}`);
      if (c.action === 'update' || c.action === 'replace') for (const f of c.fields) body.push(`#     ${fieldLine(f)}`);
      if (c.action === 'update' && c.drift) body.push(`#     drift: changed out of band by ${c.drift.actor} (${c.drift.via}, revision ${c.drift.revision}): reverted`);
      if (c.action === 'update' && c.dialPlan) for (const b of c.dialPlan.slice(0, 20)) body.push(`#     ${b.direction} ${b.number}: ${b.before ?? '(none)'} → ${b.after ?? '(none)'}`);
      for (const f of c.impact) body.push(`#     ! ${factLine(f)}`);
    }
    if (changes.length > PER_SECTION) body.push(`# … and ${(changes.length - PER_SECTION).toLocaleString('en-US')} more (the JSON plan has every change)`);
    body.push('```');
    sections.push(`<details><summary>${esc(title)}: ${counts}</summary>\n\n${body.join('\n')}\n\n</details>\n`);
  }
  let out = `${head.join('\n')}\n`;
  let omitted = 0;
  for (const section of sections) {
    if (out.length + section.length > limit - 300) {
      omitted++;
      continue;
    }
    out += section;
  }
  if (omitted > 0) out += `\n> Truncated: ${omitted} of ${sections.length} sections left out to stay under ${limit.toLocaleString('en-US')} characters. Run \`switchboard plan\` or open the JSON plan for everything.\n`;
  return out;
}
