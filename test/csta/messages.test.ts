/** ECMA-323 / ECMA-354 messages: namespaces accepted and refused, events, errors, and the builders' XML. */
import { describe, expect, it } from 'vitest';
import {
  APPL_SESSION_NS,
  buildMessage,
  snapshotDevice,
  snapshotStateOf,
  CSTA_NS,
  CstaXmlError,
  connectionClearedEvent,
  deliveredEvent,
  errorOf,
  establishedEvent,
  eventOf,
  monitorStart,
  monitorStartResponse,
  monitorStop,
  normalizeDevice,
  parseMessage,
  serviceInitiatedEvent,
  startApplicationSession,
  startApplicationSessionPosResponse,
  systemRegister,
  systemStatus,
  textAt,
} from '../../src/csta/messages.js';

describe('parseMessage', () => {
  it.each([
    ['ed2', CSTA_NS.ed2],
    ['ed3', CSTA_NS.ed3],
    ['ed4', CSTA_NS.ed4],
    ['ed5', CSTA_NS.ed5],
    ['ECMA-354', APPL_SESSION_NS],
  ])('accepts the %s namespace', (_, ns) => {
    const msg = parseMessage(`<?xml version="1.0" encoding="UTF-8"?>\n<MonitorStart xmlns="${ns}"><monitorObject><deviceObject>2001</deviceObject></monitorObject></MonitorStart>`);
    expect(msg).toMatchObject({ name: 'MonitorStart', namespace: ns });
    expect(textAt(msg.body, 'monitorObject', 'deviceObject')).toBe('2001');
  });

  it('accepts a prefixed root and no namespace at all', () => {
    const prefixed = parseMessage(`<csta:MonitorStart xmlns:csta="${CSTA_NS.ed4}"><csta:monitorObject><csta:deviceObject typeOfNumber="dialingNumber">3021033</csta:deviceObject></csta:monitorObject></csta:MonitorStart>`);
    expect(prefixed).toMatchObject({ name: 'MonitorStart', namespace: CSTA_NS.ed4 });
    expect(textAt(prefixed.body, 'monitorObject', 'deviceObject')).toBe('3021033');
    expect(parseMessage('<SystemStatusResponse/>')).toMatchObject({ name: 'SystemStatusResponse', namespace: undefined });
  });

  it('refuses a foreign namespace and broken XML with a CstaXmlError', () => {
    expect(() => parseMessage('<MonitorStart xmlns="urn:example:not-csta"><monitorObject/></MonitorStart>')).toThrow(CstaXmlError);
    expect(() => parseMessage(`<MonitorStart xmlns="${CSTA_NS.ed4}"><monitorObject><deviceObject>2001</deviceObj`)).toThrow(CstaXmlError);
    expect(() => parseMessage(`<MonitorStart xmlns="${CSTA_NS.ed4}"><monitorObject></MonitorStart>`)).toThrow(CstaXmlError);
    expect(() => parseMessage('')).toThrow(CstaXmlError);
    expect(() => parseMessage('<a/><b/>')).toThrow(CstaXmlError);
  });
});

describe('events', () => {
  const ns = CSTA_NS.ed4;
  const p = { monitorCrossRefId: '43', callId: 'C1', calling: '2001', called: '2002' };

  it('reads state, callID and cross-ref id from the builders’ events', () => {
    expect(eventOf(parseMessage(serviceInitiatedEvent(ns, { ...p, device: '2001', localConnectionInfo: 'initiated' })))).toEqual({ event: 'ServiceInitiated', monitorCrossRefId: '43', callId: 'C1', cause: 'newCall', state: 'dialing' });
    expect(eventOf(parseMessage(deliveredEvent(ns, { ...p, device: '2002', localConnectionInfo: 'alerting' })))).toEqual({ event: 'Delivered', monitorCrossRefId: '43', callId: 'C1', cause: 'newCall', state: 'ringing' });
    expect(eventOf(parseMessage(deliveredEvent(ns, { ...p, device: '2001', localConnectionInfo: 'connected' })))?.state).toBe('busy');
    expect(eventOf(parseMessage(establishedEvent(ns, { ...p, device: '2002', localConnectionInfo: 'connected' })))).toEqual({ event: 'Established', monitorCrossRefId: '43', callId: 'C1', cause: 'normal', state: 'busy' });
    expect(eventOf(parseMessage(connectionClearedEvent(ns, { ...p, device: '2002', localConnectionInfo: 'null', releasing: '2001' })))).toEqual({ event: 'ConnectionCleared', monitorCrossRefId: '43', callId: 'C1', cause: 'normalClearing', state: 'idle' });
  });

  it('reads an OpenScape Voice style Delivered event (N<…>;noa=nk device ids)', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?><DeliveredEvent xmlns="${ns}"><monitorCrossRefID>4711</monitorCrossRefID><connection><callID>FF0100000A1B</callID><deviceID>N&lt;302118840100&gt;;noa=nk</deviceID></connection><alertingDevice><deviceIdentifier>N&lt;302118840100&gt;;noa=nk;displayNumber=840100</deviceIdentifier></alertingDevice><callingDevice><deviceIdentifier>N&lt;302118840200&gt;;noa=nk</deviceIdentifier></callingDevice><calledDevice><deviceIdentifier>N&lt;302118840100&gt;;noa=nk</deviceIdentifier></calledDevice><lastRedirectionDevice><notRequired/></lastRedirectionDevice><localConnectionInfo>alerting</localConnectionInfo><cause>newCall</cause></DeliveredEvent>`;
    const msg = parseMessage(xml);
    expect(eventOf(msg)).toEqual({ event: 'Delivered', monitorCrossRefId: '4711', callId: 'FF0100000A1B', cause: 'newCall', state: 'ringing' });
    expect(normalizeDevice(textAt(msg.body, 'alertingDevice', 'deviceIdentifier')!)).toBe('302118840100');
    expect(normalizeDevice(textAt(msg.body, 'connection', 'deviceID')!)).toBe('302118840100');
  });

  it('falls back to the event name without localConnectionInfo, and ignores non-events', () => {
    expect(eventOf(parseMessage(`<EstablishedEvent xmlns="${ns}"><monitorCrossRefID>1</monitorCrossRefID><establishedConnection><callID>9</callID></establishedConnection></EstablishedEvent>`))?.state).toBe('busy');
    expect(eventOf(parseMessage(monitorStartResponse(ns, '1')))).toBeUndefined();
  });

  it('normalizes device identifiers', () => {
    expect(normalizeDevice('N<302118840100>;noa=nk;displayNumber=840100')).toBe('302118840100');
    expect(normalizeDevice('sip:455455@ser.intern.snom.de')).toBe('455455');
    expect(normalizeDevice('tel:+3312;phone-context=x')).toBe('+3312');
    expect(normalizeDevice(' 2001 ')).toBe('2001');
  });
});

describe('errorOf', () => {
  it('reads the two CSTAErrorCode examples of csta.md', () => {
    expect(errorOf(parseMessage('<CSTAErrorCode><operation>invalidDeviceID</operation></CSTAErrorCode>'))).toEqual({ category: 'operation', value: 'invalidDeviceID' });
    expect(errorOf(parseMessage(`<CSTAErrorCode xmlns="${CSTA_NS.ed4}"><privateErrorCode>URM Denied</privateErrorCode></CSTAErrorCode>`))).toEqual({ category: 'privateErrorCode', value: 'URM Denied' });
    expect(errorOf(parseMessage('<MonitorStopResponse/>'))).toBeUndefined();
  });
});

describe('builders', () => {
  it('MonitorStart, MonitorStop and MonitorStartResponse have csta.md’s shapes', () => {
    expect(monitorStart(CSTA_NS.ed5, 'sip:455455@ser.intern.snom.de')).toBe(`<?xml version="1.0" encoding="UTF-8"?><MonitorStart xmlns="${CSTA_NS.ed5}"><monitorObject><deviceObject>sip:455455@ser.intern.snom.de</deviceObject></monitorObject></MonitorStart>`);
    expect(monitorStop(CSTA_NS.ed5, '43')).toContain('<MonitorStop xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed5"><monitorCrossRefID>43</monitorCrossRefID></MonitorStop>');
    expect(monitorStartResponse(CSTA_NS.ed5, '43')).toContain('<monitorCrossRefID>43</monitorCrossRefID><monitorExistingCalls>true</monitorExistingCalls>');
  });

  it('SystemRegister asks for system status; SystemStatus carries its status', () => {
    expect(systemRegister(CSTA_NS.ed2)).toContain(`<SystemRegister xmlns="${CSTA_NS.ed2}"><requestTypes><systemStatus>true</systemStatus><requestSystemStatus>false</requestSystemStatus></requestTypes></SystemRegister>`);
    expect(textAt(parseMessage(systemStatus(CSTA_NS.ed4)).body, 'systemStatus')).toBe('normal');
  });

  it('StartApplicationSession carries user/password, protocol and duration; its answer parses back', () => {
    const msg = parseMessage(startApplicationSession({ applicationId: 'switchboard', user: 'cti', password: 's3cr<t', protocol: CSTA_NS.ed4, duration: 60 }));
    expect(msg).toMatchObject({ name: 'StartApplicationSession', namespace: APPL_SESSION_NS });
    expect(textAt(msg.body, 'applicationInfo', 'applicationID')).toBe('switchboard');
    expect(textAt(msg.body, 'applicationInfo', 'applicationSpecificInfo', 'password')).toBe('s3cr<t');
    expect(textAt(msg.body, 'requestedProtocolVersions', 'protocolVersion')).toBe(CSTA_NS.ed4);
    expect(textAt(msg.body, 'requestedSessionDuration')).toBe('60');
    const pos = parseMessage(startApplicationSessionPosResponse('009968951', CSTA_NS.ed4, 600));
    expect(textAt(pos.body, 'sessionID')).toBe('009968951');
    expect(textAt(pos.body, 'actualSessionDuration')).toBe('600');
  });

  it('reads a device snapshot: no call is idle, ECMA-323 compound states and vendor detailed states, busy first', () => {
    const snapshot = (infos: unknown[] | '') => parseMessage(buildMessage('SnapshotDeviceResponse', CSTA_NS.ed4, { crossRefIDorSnapshotData: { snapshotData: infos === '' ? '' : { snapshotDeviceResponseInfo: infos } } }));
    const compound = (callID: string, state: string) => ({ connectionIdentifier: { callID, deviceID: '2001' }, localCallState: { compoundCallState: { localConnectionState: state } } });
    expect(snapshotStateOf(snapshot(''))).toBe('idle');
    expect(snapshotStateOf(snapshot([compound('1', 'alerting')]))).toBe('ringing');
    expect(snapshotStateOf(snapshot([compound('1', 'hold'), compound('2', 'connected')]))).toBe('busy');
    expect(snapshotStateOf(snapshot([compound('1', 'hold'), compound('2', 'alerting')]))).toBe('held');
    // OpenScape writes simpleCallDetailedState (e.g. callEstablished).
    expect(snapshotStateOf(snapshot([{ connectionIdentifier: { callID: '1' }, localCallState: { simpleCallDetailedState: 'callEstablished' } }]))).toBe('busy');
    expect(snapshotStateOf(snapshot([{ connectionIdentifier: { callID: '1' }, localCallState: { simpleCallDetailedState: 'callDelivered' } }]))).toBe('ringing');
    expect(snapshotStateOf(parseMessage('<CSTAErrorCode><operation>serviceNotSupported</operation></CSTAErrorCode>'))).toBeUndefined();
    expect(snapshotDevice(CSTA_NS.ed5, '455455@ser.intern.snom.de')).toContain(`<SnapshotDevice xmlns="${CSTA_NS.ed5}"><snapshotObject>455455@ser.intern.snom.de</snapshotObject></SnapshotDevice>`);
  });
});
