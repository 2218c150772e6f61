/**
 * CSTA XML messages (ECMA-323, sessions from ECMA-354): parsing a frame's body into a
 * {@link CstaMessage}, building the messages both sides send, and reading events and errors.
 *
 * Names are matched on local element names: any ECMA-323 edition 2–5 namespace (both the
 * `ecma.ch` and `ecma-international.org` spellings), the ECMA-354 session namespace, or none,
 * is accepted; another namespace is refused ({@link CstaXmlError}), never guessed at.
 * Parsing is saxes (strict SAX: truncated or malformed XML throws); building is fast-xml-parser's
 * XMLBuilder (escaping).
 */
import { XMLBuilder } from 'fast-xml-parser';
import { SaxesParser } from 'saxes';

export const CSTA_NS = {
  ed2: 'http://www.ecma.ch/standards/ecma-323/csta/ed2',
  ed3: 'http://www.ecma-international.org/standards/ecma-323/csta/ed3',
  ed4: 'http://www.ecma-international.org/standards/ecma-323/csta/ed4',
  ed5: 'http://www.ecma-international.org/standards/ecma-323/csta/ed5',
} as const;
export const APPL_SESSION_NS = 'http://www.ecma-international.org/standards/ecma-354/appl_session';

const ACCEPTED_NS = /^https?:\/\/www\.ecma(?:-international\.org|\.ch)\/standards\/(?:ecma-323\/csta\/ed[2-5]|ecma-354\/appl_session)\/?$/;

/** True for a namespace this implementation speaks. */
export function isAcceptedNamespace(ns: string | undefined): boolean {
  return ns === undefined || ns === '' || ACCEPTED_NS.test(ns);
}

/** An element's content as fast-xml-parser gives it: text, or children (attributes as `@name`, text as `#text`). */
export type XmlNode = string | { readonly [name: string]: XmlNode | readonly XmlNode[] };

export interface CstaMessage {
  /** Local name of the root element, e.g. `MonitorStartResponse`. */
  readonly name: string;
  /** Namespace of the root element, if declared. */
  readonly namespace: string | undefined;
  readonly body: XmlNode;
}

/** A frame body that is not a CSTA message we accept. */
export class CstaXmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CstaXmlError';
  }
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: true });

const localName = (qname: string) => {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
};

interface Open {
  readonly name: string;
  readonly node: Record<string, XmlNode | XmlNode[]>;
  text: string;
  children: boolean;
  attributes: boolean;
}

/** The tree being built by {@link parser} (one message at a time: parsing is synchronous). */
const tree = {
  stack: [] as Open[],
  root: undefined as CstaMessage | undefined,
  rootNamespace: undefined as string | undefined,
};

function newParser(): SaxesParser {
  const p = new SaxesParser({ position: true });
  p.on('doctype', () => {
    throw new CstaXmlError('a DOCTYPE is not accepted in a CSTA message');
  });
  p.on('opentag', (tag) => {
    const node: Record<string, XmlNode | XmlNode[]> = {};
    let attributes = false;
    const attrs = tag.attributes as Record<string, string>;
    for (const name in attrs) {
      if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
      node[`@${localName(name)}`] = attrs[name]!;
      attributes = true;
    }
    if (tree.stack.length === 0) {
      const colon = tag.name.indexOf(':');
      tree.rootNamespace = attrs[colon < 0 ? 'xmlns' : `xmlns:${tag.name.slice(0, colon)}`];
    }
    tree.stack.push({ name: localName(tag.name), node, text: '', children: false, attributes });
  });
  const onText = (t: string) => {
    const top = tree.stack[tree.stack.length - 1];
    if (top) top.text += t;
  };
  p.on('text', onText);
  p.on('cdata', onText);
  p.on('closetag', () => {
    const open = tree.stack.pop()!;
    const text = open.text.trim();
    let value: XmlNode;
    if (!open.children && !open.attributes) value = text;
    else {
      if (text !== '') open.node['#text'] = text;
      value = open.node;
    }
    const parent = tree.stack[tree.stack.length - 1];
    if (!parent) {
      tree.root = { name: open.name, namespace: tree.rootNamespace, body: value };
      return;
    }
    parent.children = true;
    const existing = parent.node[open.name];
    if (existing === undefined) parent.node[open.name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else parent.node[open.name] = [existing as XmlNode, value];
  });
  return p;
}

/** Reused across messages (close() resets it); replaced after a message that broke it. */
let parser = newParser();

/**
 * Parse a frame's XML body (saxes: a strict, well-formedness-checking SAX parser; no DTD, no
 * external entities). Throws a {@link CstaXmlError} for malformed or truncated XML, a DOCTYPE,
 * or a foreign namespace.
 */
export function parseMessage(xml: string): CstaMessage {
  tree.stack = [];
  tree.root = undefined;
  tree.rootNamespace = undefined;
  try {
    parser.write(xml).close();
  } catch (e) {
    parser = newParser();
    if (e instanceof CstaXmlError) throw e;
    throw new CstaXmlError(`malformed XML: ${(e as Error).message}`);
  }
  const root = tree.root as CstaMessage | undefined;
  tree.root = undefined;
  if (!root) throw new CstaXmlError('the XML body has no element');
  if (!isAcceptedNamespace(root.namespace)) throw new CstaXmlError(`<${root.name}> is in namespace '${root.namespace}', not an ECMA-323 (editions 2–5) or ECMA-354 namespace`);
  return root;
}

/** The XML of a message: `<name xmlns=namespace>content</name>` with a declaration. */
export function buildMessage(name: string, namespace: string | undefined, content: Record<string, unknown> = {}): string {
  const root = namespace ? { '@xmlns': namespace, ...content } : content;
  return `<?xml version="1.0" encoding="UTF-8"?>${builder.build({ [name]: root }) as string}`;
}

// ---- reading ---------------------------------------------------------------------------

/** A child element (the first when repeated). */
export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  if (node === undefined || typeof node === 'string') return undefined;
  const v = node[name];
  return Array.isArray(v) ? (v[0] as XmlNode | undefined) : (v as XmlNode | undefined);
}

/** The text of an element (`<a>t</a>` or `<a x="1">t</a>`); '' for an empty element. */
export function text(node: XmlNode | readonly XmlNode[] | undefined): string | undefined {
  if (node === undefined) return undefined;
  if (Array.isArray(node)) return text(node[0] as XmlNode | undefined);
  if (typeof node === 'string') return node;
  const t = (node as Record<string, unknown>)['#text'];
  return typeof t === 'string' ? t : typeof t === 'number' ? String(t) : '';
}

/** Text at a path of child names. */
export function textAt(node: XmlNode | undefined, ...path: string[]): string | undefined {
  let n: XmlNode | undefined = node;
  for (const p of path) n = child(n, p);
  return text(n);
}

/**
 * A device identifier as the switch writes it, reduced to the number dial plans see:
 * `N<302118840100>;noa=nk;displayNumber=…` → `302118840100`, `sip:455455@host` → `455455`,
 * `tel:+3312` → `+3312`.
 */
export function normalizeDevice(id: string): string {
  let s = id.trim();
  const angle = /^N<([^>]*)>/.exec(s);
  if (angle) return angle[1]!;
  s = s.replace(/^(?:sips?|tel):/i, '');
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  const semi = s.indexOf(';');
  if (semi >= 0) s = s.slice(0, semi);
  return s;
}

/** A `CSTAErrorCode` message: its category (e.g. `operation`) and value (e.g. `invalidDeviceID`). */
export function errorOf(msg: CstaMessage): { readonly category: string; readonly value: string } | undefined {
  if (msg.name !== 'CSTAErrorCode') return undefined;
  const body = msg.body;
  if (typeof body === 'string') return { category: 'unspecified', value: body };
  const category = Object.keys(body).find((k) => !k.startsWith('@') && k !== '#text') ?? 'unspecified';
  return { category, value: text(body[category] as XmlNode | undefined) ?? '' };
}

/** What the supervised phone is doing, as its events tell. */
export type CallState = 'idle' | 'dialing' | 'ringing' | 'calling' | 'busy' | 'held' | 'unknown';

const LOCAL_CONNECTION_STATE: Readonly<Record<string, CallState>> = {
  null: 'idle',
  initiated: 'dialing',
  alerting: 'ringing',
  connected: 'busy',
  hold: 'held',
  queued: 'calling',
  fail: 'idle',
};

/** The connection element each event carries. */
const CONNECTION_OF: Readonly<Record<string, string>> = {
  ServiceInitiatedEvent: 'initiatedConnection',
  OriginatedEvent: 'originatedConnection',
  DeliveredEvent: 'connection',
  EstablishedEvent: 'establishedConnection',
  ConnectionClearedEvent: 'droppedConnection',
  HeldEvent: 'heldConnection',
  RetrievedEvent: 'retrievedConnection',
  FailedEvent: 'failedConnection',
  DivertedEvent: 'connection',
  TransferedEvent: 'primaryOldCall',
  ConferencedEvent: 'primaryOldCall',
};

/** A fallback when an event carries no `localConnectionInfo`. */
const EVENT_STATE: Readonly<Record<string, CallState>> = {
  ServiceInitiatedEvent: 'dialing',
  OriginatedEvent: 'calling',
  DeliveredEvent: 'ringing',
  EstablishedEvent: 'busy',
  ConnectionClearedEvent: 'idle',
  HeldEvent: 'held',
  RetrievedEvent: 'busy',
  FailedEvent: 'idle',
};

export interface CstaEvent {
  /** Event name without the `Event` suffix, e.g. `Delivered`. */
  readonly event: string;
  readonly monitorCrossRefId: string;
  readonly callId: string | undefined;
  readonly cause: string | undefined;
  /**
   * The monitored device's state after the event: from `localConnectionInfo` when present, else
   * from the event itself (undefined for events that do not change it, e.g. agent events).
   */
  readonly state: CallState | undefined;
}

/** Vendor `simpleCallDetailedState` values (OpenScape: `callEstablished`, …) by what they contain. */
const DETAILED_STATE: readonly (readonly [RegExp, CallState])[] = [
  [/held|hold/i, 'held'],
  [/established|connected|active/i, 'busy'],
  [/delivered|alerting|ringing|offered/i, 'ringing'],
  [/initiated|dialing|originated/i, 'dialing'],
  [/queued/i, 'calling'],
  [/null|cleared|idle/i, 'idle'],
];

/** When a device is in several calls, the one that matters most to its presence. */
const PRECEDENCE: readonly CallState[] = ['busy', 'held', 'ringing', 'dialing', 'calling', 'idle'];

/**
 * The device state a `SnapshotDeviceResponse` gives: one `snapshotDeviceResponseInfo` per call
 * the device is in, each with its `localCallState` — ECMA-323's `compoundCallState` list of
 * `localConnectionState`s (the device's own first), or a vendor `simpleCallDetailedState`.
 * No call: `idle`. Undefined when the answer is not a snapshot.
 */
export function snapshotStateOf(msg: CstaMessage): CallState | undefined {
  if (msg.name !== 'SnapshotDeviceResponse') return undefined;
  const data = child(child(msg.body, 'crossRefIDorSnapshotData'), 'snapshotData');
  const infos = data === undefined || typeof data === 'string' ? [] : ([] as XmlNode[]).concat((data.snapshotDeviceResponseInfo as XmlNode | XmlNode[] | undefined) ?? []);
  const states = infos.map((info): CallState => {
    const local = child(info, 'localCallState');
    const compound = textAt(local, 'compoundCallState', 'localConnectionState');
    if (compound !== undefined) return LOCAL_CONNECTION_STATE[compound] ?? 'unknown';
    const detailed = textAt(local, 'simpleCallDetailedState') ?? textAt(local, 'simpleCallState');
    return DETAILED_STATE.find(([re]) => detailed !== undefined && re.test(detailed))?.[1] ?? 'unknown';
  });
  if (states.length === 0) return 'idle';
  return PRECEDENCE.find((p) => states.includes(p)) ?? 'unknown';
}

/** An unsolicited event (`…Event` with a `monitorCrossRefID`), or undefined. */
export function eventOf(msg: CstaMessage): CstaEvent | undefined {
  if (!msg.name.endsWith('Event')) return undefined;
  const xref = textAt(msg.body, 'monitorCrossRefID');
  if (xref === undefined) return undefined;
  const lci = textAt(msg.body, 'localConnectionInfo');
  const connection = child(msg.body, CONNECTION_OF[msg.name] ?? 'connection');
  return {
    event: msg.name.slice(0, -'Event'.length),
    monitorCrossRefId: xref,
    callId: textAt(connection, 'callID'),
    cause: textAt(msg.body, 'cause'),
    state: (lci !== undefined ? LOCAL_CONNECTION_STATE[lci] : undefined) ?? EVENT_STATE[msg.name],
  };
}

// ---- building: the client (application) side -----------------------------------------

export function systemStatus(ns: string, status = 'normal'): string {
  return buildMessage('SystemStatus', ns, { systemStatus: status });
}

export function systemStatusResponse(ns: string): string {
  return buildMessage('SystemStatusResponse', ns);
}

export function systemRegister(ns: string): string {
  return buildMessage('SystemRegister', ns, { requestTypes: { systemStatus: 'true', requestSystemStatus: 'false' } });
}

export interface SessionRequest {
  readonly applicationId: string;
  readonly user?: string;
  readonly password?: string;
  /** The CSTA namespace asked for. */
  readonly protocol: string;
  /** Seconds. */
  readonly duration: number;
}

export function startApplicationSession(r: SessionRequest): string {
  const specific = r.user !== undefined || r.password !== undefined ? { applicationSpecificInfo: { ...(r.user !== undefined ? { user: r.user } : {}), ...(r.password !== undefined ? { password: r.password } : {}) } } : {};
  return buildMessage('StartApplicationSession', APPL_SESSION_NS, {
    applicationInfo: { applicationID: r.applicationId, ...specific },
    requestedProtocolVersions: { protocolVersion: r.protocol },
    requestedSessionDuration: String(r.duration),
  });
}

export function resetApplicationSessionTimer(sessionId: string, duration: number): string {
  return buildMessage('ResetApplicationSessionTimer', APPL_SESSION_NS, { sessionID: sessionId, requestedSessionDuration: String(duration) });
}

export function stopApplicationSession(sessionId: string): string {
  return buildMessage('StopApplicationSession', APPL_SESSION_NS, { sessionID: sessionId, sessionEndReason: { appEndReason: 'normal' } });
}

export function monitorStart(ns: string, device: string): string {
  return buildMessage('MonitorStart', ns, { monitorObject: { deviceObject: device } });
}

export function snapshotDevice(ns: string, device: string): string {
  return buildMessage('SnapshotDevice', ns, { snapshotObject: device });
}

export function monitorStop(ns: string, monitorCrossRefId: string): string {
  return buildMessage('MonitorStop', ns, { monitorCrossRefID: monitorCrossRefId });
}

// ---- building: the switch side (the simulator) ----------------------------------------

export function monitorStartResponse(ns: string, monitorCrossRefId: string): string {
  return buildMessage('MonitorStartResponse', ns, { monitorCrossRefID: monitorCrossRefId, monitorExistingCalls: 'true' });
}

export function monitorStopResponse(ns: string): string {
  return buildMessage('MonitorStopResponse', ns);
}

export function systemRegisterResponse(ns: string, registerId: string): string {
  return buildMessage('SystemRegisterResponse', ns, { sysStatRegisterID: registerId });
}

export function startApplicationSessionPosResponse(sessionId: string, protocol: string, duration: number): string {
  return buildMessage('StartApplicationSessionPosResponse', APPL_SESSION_NS, { sessionID: sessionId, actualProtocolVersion: protocol, actualSessionDuration: String(duration) });
}

export function startApplicationSessionNegResponse(reason: string): string {
  return buildMessage('StartApplicationSessionNegResponse', APPL_SESSION_NS, { errorCode: { definedError: reason } });
}

export function resetApplicationSessionTimerPosResponse(duration: number): string {
  return buildMessage('ResetApplicationSessionTimerPosResponse', APPL_SESSION_NS, { actualSessionDuration: String(duration) });
}

export function cstaError(ns: string, category: string, value: string): string {
  return buildMessage('CSTAErrorCode', ns, { [category]: value });
}

export interface EventParty {
  /** The monitor this event is reported on. */
  readonly monitorCrossRefId: string;
  readonly callId: string;
  /** The device whose connection the event is about. */
  readonly device: string;
  readonly localConnectionInfo: 'null' | 'initiated' | 'alerting' | 'connected' | 'hold' | 'queued' | 'fail';
  readonly cause?: string;
}

const device = (d: string) => ({ deviceIdentifier: d });

export function serviceInitiatedEvent(ns: string, p: EventParty): string {
  return buildMessage('ServiceInitiatedEvent', ns, {
    monitorCrossRefID: p.monitorCrossRefId,
    initiatedConnection: { callID: p.callId, deviceID: p.device },
    initiatingDevice: device(p.device),
    localConnectionInfo: p.localConnectionInfo,
    cause: p.cause ?? 'newCall',
  });
}

export function deliveredEvent(ns: string, p: EventParty & { readonly calling: string; readonly called: string }): string {
  return buildMessage('DeliveredEvent', ns, {
    monitorCrossRefID: p.monitorCrossRefId,
    connection: { callID: p.callId, deviceID: p.called },
    alertingDevice: device(p.called),
    callingDevice: device(p.calling),
    calledDevice: device(p.called),
    lastRedirectionDevice: { notRequired: '' },
    localConnectionInfo: p.localConnectionInfo,
    cause: p.cause ?? 'newCall',
  });
}

export function establishedEvent(ns: string, p: EventParty & { readonly calling: string; readonly called: string }): string {
  return buildMessage('EstablishedEvent', ns, {
    monitorCrossRefID: p.monitorCrossRefId,
    establishedConnection: { callID: p.callId, deviceID: p.called },
    answeringDevice: device(p.called),
    callingDevice: device(p.calling),
    calledDevice: device(p.called),
    lastRedirectionDevice: { notRequired: '' },
    localConnectionInfo: p.localConnectionInfo,
    cause: p.cause ?? 'normal',
  });
}

export function connectionClearedEvent(ns: string, p: EventParty & { readonly releasing: string }): string {
  return buildMessage('ConnectionClearedEvent', ns, {
    monitorCrossRefID: p.monitorCrossRefId,
    droppedConnection: { callID: p.callId, deviceID: p.releasing },
    releasingDevice: device(p.releasing),
    localConnectionInfo: p.localConnectionInfo,
    cause: p.cause ?? 'normalClearing',
  });
}
