/**
 * The plan for a terminal: coloured when asked (the CLI decides from TTY and NO_COLOR),
 * compact for large plans (counts per kind, details capped). Pure: Plan → string.
 */
import pc from 'picocolors';
import type { Plan, PlannedChange } from '../plan/types.js';
import { factLine, fieldLine, header, list, summaryLine, SYMBOL } from './common.js';

export interface TextOptions {
  readonly colour: boolean;
  /** Changes shown in detail per kind before "… and N more" (default 20). */
  readonly detailsPerKind?: number;
}

export function renderText(plan: Plan, options: TextOptions): string {
  const c = pc.createColors(options.colour);
  const colourOf = { create: c.green, update: c.yellow, delete: c.red, replace: c.magenta } as const;
  const cap = options.detailsPerKind ?? 20;
  const lines: string[] = [c.bold(header(plan)), ''];
  if (plan.targets) lines.push(`Targets: ${plan.targets.join(', ')}`, '');
  const byKind = new Map<string, PlannedChange[]>();
  for (const ch of plan.changes) {
    const key = `${ch.action === 'delete' ? 'z' : 'a'}${ch.kind}`;
    const group = byKind.get(key);
    if (group) group.push(ch);
    else byKind.set(key, [ch]);
  }
  for (const group of byKind.values()) {
    group.slice(0, cap).forEach((ch) => {
      const colour = colourOf[ch.action];
      lines.push(`  ${colour(`${SYMBOL[ch.action]} ${ch.action.padEnd(7)}`)} ${ch.kind} ${c.bold(ch.id)}${ch.action === 'replace' ? c.dim(`  (${ch.reason})`) : ''}`);
      if (ch.action === 'update' || ch.action === 'replace') for (const f of ch.fields) lines.push(`      ${fieldLine(f)}`);
      if (ch.action === 'update' && ch.drift) lines.push(c.cyan(`      drift: changed out of band by ${ch.drift.actor} (${ch.drift.via}, revision ${ch.drift.revision}, ${ch.drift.at}): this reverts it`));
      if (ch.action === 'update' && ch.dialPlan) {
        lines.push(`      dial-plan behaviour:`);
        for (const b of ch.dialPlan.slice(0, 15)) lines.push(`        ${b.direction.padEnd(8)} ${b.number.padEnd(20)} ${b.before ?? '(none)'} → ${b.after ?? '(none)'}`);
        if (ch.dialPlan.length > 15) lines.push(`        … and ${ch.dialPlan.length - 15} more numbers`);
      }
      for (const f of ch.impact) lines.push(c.yellow(`      ! ${factLine(f)}`));
    });
    if (group.length > cap) {
      const first = group[0]!;
      lines.push(c.dim(`  … and ${(group.length - cap).toLocaleString('en-US')} more ${first.kind} change${group.length - cap === 1 ? '' : 's'}`));
    }
  }
  if (plan.changes.length > 0) lines.push('');
  const countLines = Object.entries(plan.summary.byKind).map(
    ([kind, counts]) => `  ${kind.padEnd(22)} ${Object.entries(counts ?? {}).map(([a, n]) => `${SYMBOL[a as keyof typeof SYMBOL]}${n}`).join(' ')}`,
  );
  if (plan.changes.length > cap) lines.push(c.bold('By kind:'), ...countLines, '');
  const i = plan.impact;
  const impact: string[] = [];
  for (const r of i.restarts) impact.push(`restarts ${r.target} (${r.reason}): ${r.extensionsInterrupted} extension${r.extensionsInterrupted === 1 ? '' : 's'} lose supervision meanwhile`);
  if (i.supervisionStarts.length) impact.push(`supervision starts for ${i.supervisionStarts.length} extension(s): ${list(i.supervisionStarts)}`);
  if (i.supervisionStops.length) impact.push(`supervision stops for ${i.supervisionStops.length} extension(s): ${list(i.supervisionStops)}`);
  for (const n of i.notSupervised) impact.push(`configured, not supervised (${n.reason}): ${n.extensions.length} extension(s): ${list(n.extensions)}`);
  for (const l of i.licences) impact.push(`${l.application} licences in ${l.company}: ${l.before} → ${l.after} of ${l.available}${l.after > l.available ? c.red(' (over: refused)') : ''}`);
  for (const a of i.access) {
    if (a.gained.length) impact.push(`${a.gained.length} user(s) gain ${a.application}: ${list(a.gained, 5)}`);
    if (a.lost.length) impact.push(`${a.lost.length} user(s) lose ${a.application}: ${list(a.lost, 5)}`);
  }
  for (const s of i.syncReruns) impact.push(`re-runs ${s.target} (${s.reason})`);
  for (const s of i.syncUnsupported) impact.push(`does not synchronize ${s.target} (${s.reason})`);
  if (impact.length) lines.push(c.bold('Impact on the running system:'), ...impact.map((l) => `  ${l}`), '');
  if (plan.unmanaged.length) {
    const byManager = new Map<string, number>();
    for (const u of plan.unmanaged) byManager.set(u.manager, (byManager.get(u.manager) ?? 0) + 1);
    lines.push(c.dim(`Unmanaged (not owned by config, never deleted): ${[...byManager].map(([m, n]) => `${n} by ${m}`).join(', ')}`), '');
  }
  for (const w of plan.warnings) lines.push(c.yellow(`Warning: ${w.message}`));
  if (plan.warnings.length) lines.push('');
  lines.push(c.bold(summaryLine(plan)));
  return `${lines.join('\n')}\n`;
}
