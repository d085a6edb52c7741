import { createHash } from 'node:crypto';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { startMetricsServer } from '../../src/api/metrics-server.js';
import { backends } from '../support/databases.js';
import { startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { rawGraphQLHttp, rawGraphQLWs, rawHttp, type GraphQLAnswer } from './bad-input-client.js';

/**
 * Bad input never becomes a 500: every HTTP route and every GraphQL field, fed malformed ids,
 * cursors, ranges, JSON, headers, oversized and deeply nested params and non-UTF-8 bodies, answers
 * with a typed error code (or, where the schema says so, a plain null), never a 5xx; nothing is
 * appended to the log, and the server stays healthy. GraphQL cases run over HTTP and graphql-ws
 * (subscriptions over SSE and graphql-ws).
 */

type Who = 'alice' | 'bob' | 'auditor' | 'admin' | 'nobody';
type Transport = 'http' | 'sse' | 'ws';

interface Fixture {
  /** alice's report (REQUESTED: no workers run here). */
  reportId: string;
  /** Global position of its ReportRequested. */
  position: number;
  /** A /files token for a small object-store file (for Range cases). */
  fileToken: string;
}

interface GraphQLCase {
  name: string;
  query: string;
  /** JSON text of the variables, exactly as sent. */
  variables?: (f: Fixture) => string;
  as?: Who;
  /** The code expected (a typed error), 'null' (the schema's "no such thing"), or 'ok' (with `check`). */
  expect: string | RegExp;
  check?: (data: Record<string, unknown>, f: Fixture) => void;
  transports?: Transport[];
}

const vars = (make: (f: Fixture) => Record<string, unknown>) => (f: Fixture) => JSON.stringify(make(f));
const deepObject = (depth: number, leaf = '1') => `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
const deepArray = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const table = (cell: string) => `{"columns":[{"label":"N","key":"name"}],"rows":[{"name":${cell}}]}`;
const requestWith = (params: string, title = '"t"', template = '"table"') => () => `{"input":{"template":${template},"title":${title},"params":${params}}}`;
/** Request-shape errors: a variable of the wrong type, a query that does not parse or validate. */
const REQUEST_ERROR = /^(BAD_USER_INPUT|GRAPHQL_PARSE_FAILED|GRAPHQL_VALIDATION_FAILED|BAD_REQUEST)$/;

const REQUEST = `mutation($input: RequestReportInput!) { requestReport(input: $input) { __typename ... on Error { code } } }`;
const REPORT = `query($id: ID!) { report(id: $id) { reportId } }`;
const DOWNLOAD = `mutation($id: ID!, $ttl: Int) { createDownloadUrl(reportId: $id, ttlSeconds: $ttl) { __typename ... on Error { code } } }`;
const RETRY = `mutation($id: ID!) { retryReport(id: $id) { __typename ... on Error { code } } }`;
const DELETE = `mutation($id: ID!, $reason: String) { deleteReport(id: $id, reason: $reason) { __typename ... on Error { code } } }`;
const HOLD = `mutation($id: ID!) { holdReport(id: $id) { __typename ... on Error { code } } }`;
const ERASE = `mutation($id: ID!, $reason: String!) { eraseReport(id: $id, reason: $reason) { __typename ... on Error { code } } }`;
const RELEASE = `mutation($id: ID!) { releaseReport(id: $id) { __typename ... on Error { code } } }`;
const requestRetained = (retention: string) => () => `{"input":{"template":"table","title":"t","params":{"columns":[{"label":"N","key":"n"}],"rows":[]},${retention}}}`;
const REPORTS = `query($after: String, $first: Int, $last: Int, $template: String) { reports(after: $after, first: $first, last: $last, template: $template) { edges { cursor } } }`;
const EVENTS = `query($after: String, $first: Int, $since: DateTime, $until: DateTime, $streamId: String) { events(after: $after, first: $first, since: $since, until: $until, streamId: $streamId) { edges { cursor } } }`;
const REPORT_AT = `query($id: ID!, $position: Float, $at: DateTime) { reportAt(id: $id, position: $position, at: $at) { __typename ... on Error { code } ... on QueryReportAtSuccess { data { reportId } } } }`;
const PROOF = `query($p: Float!) { eventProof(globalPosition: $p) { __typename ... on Error { code } } }`;
const FORGET = `mutation($machine: String!, $reason: String) { forgetVolume(machine: $machine, reason: $reason) { __typename ... on Error { code } } }`;
const SUBSCRIBE_STATUS = `subscription($id: ID!) { reportStatus(id: $id) { reportId status } }`;
const SUBSCRIBE_PROGRESS = `subscription($id: ID!) { reportProgress(id: $id) { fraction } }`;
const SUBSCRIBE_EVENTS = `subscription($after: String) { events(after: $after) { checkpoint } }`;
const SUBSCRIBE_MIGRATION = `subscription { migrationProgress { total } }`;
const SUBSCRIPTION: Transport[] = ['sse', 'ws'];

const GRAPHQL_CASES: GraphQLCase[] = [
  // Ids
  { name: 'report: not a UUID', query: REPORT, variables: vars(() => ({ id: 'not-a-uuid' })), expect: 'null' },
  { name: 'report: NUL in the id', query: REPORT, variables: vars(() => ({ id: 'a\u0000b' })), expect: 'null' },
  { name: 'report: lone surrogate in the id', query: REPORT, variables: vars(() => ({ id: 'a\ud800b' })), expect: 'null' },
  { name: 'report: a 200 KB id', query: REPORT, variables: vars(() => ({ id: 'x'.repeat(200_000) })), expect: 'null' },
  { name: 'report: an object for an ID', query: REPORT, variables: vars(() => ({ id: { a: 1 } })), expect: REQUEST_ERROR },
  {
    name: 'report: the upper-case UUID of an existing report is that report',
    query: REPORT,
    variables: vars((f) => ({ id: f.reportId.toUpperCase() })),
    expect: 'ok',
    check: (d, f) => expect(d).toEqual({ report: { reportId: f.reportId } }),
  },
  {
    name: 'node: a global ID holding an upper-case UUID',
    query: `query($id: ID!) { node(id: $id) { ... on Report { reportId } } }`,
    variables: vars((f) => ({ id: encodeGlobalID('Report', f.reportId.toUpperCase()) })),
    expect: 'ok',
    check: (d, f) => expect(d).toEqual({ node: { reportId: f.reportId } }),
  },
  { name: 'node: not a global ID', query: `query($id: ID!) { node(id: $id) { id } }`, variables: vars(() => ({ id: 'garbage' })), expect: REQUEST_ERROR },
  { name: 'node: a global ID of an unknown type', query: `query($id: ID!) { node(id: $id) { id } }`, variables: vars(() => ({ id: encodeGlobalID('Nope', 'x') })), expect: /^(BAD_USER_INPUT|NOT_FOUND)$/ },
  { name: 'nodes: garbage ids', query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, variables: vars(() => ({ ids: ['garbage', '', '\u0000'] })), expect: REQUEST_ERROR },
  { name: 'createDownloadUrl: a path for an id', query: DOWNLOAD, variables: vars(() => ({ id: '../../etc/passwd' })), expect: 'NOT_FOUND' },
  { name: 'createDownloadUrl: upper-case UUID finds the report (not ready yet)', query: DOWNLOAD, variables: vars((f) => ({ id: f.reportId.toUpperCase() })), expect: 'NOT_READY' },
  { name: 'createDownloadUrl: negative TTL', query: DOWNLOAD, variables: vars((f) => ({ id: f.reportId, ttl: -1 })), expect: 'INVALID_PARAMS' },
  { name: 'createDownloadUrl: TTL over Int', query: DOWNLOAD, variables: vars((f) => ({ id: f.reportId, ttl: 2 ** 40 })), expect: REQUEST_ERROR },
  { name: 'retryReport: not a UUID', query: RETRY, variables: vars(() => ({ id: 'x\u0000' })), expect: 'NOT_FOUND' },
  { name: 'retryReport: upper-case UUID finds the report', query: RETRY, variables: vars((f) => ({ id: f.reportId.toUpperCase() })), expect: 'NOT_RETRYABLE' },
  { name: 'retryReport: someone else’s report', query: RETRY, variables: vars((f) => ({ id: f.reportId })), as: 'bob', expect: 'NOT_FOUND' },
  { name: 'deleteReport: not a UUID', query: DELETE, variables: vars(() => ({ id: 'x\u0000' })), expect: 'NOT_FOUND' },
  { name: 'deleteReport: someone else’s report', query: DELETE, variables: vars((f) => ({ id: f.reportId })), as: 'bob', expect: 'NOT_FOUND' },
  { name: 'deleteReport: NUL in the reason', query: DELETE, variables: vars((f) => ({ id: f.reportId, reason: 'a\u0000' })), expect: 'INVALID_PARAMS' },
  { name: 'deleteReport: a reason over 500 characters', query: DELETE, variables: vars((f) => ({ id: f.reportId, reason: 'x'.repeat(501) })), expect: 'INVALID_PARAMS' },
  { name: 'holdReport: a user, on their own report', query: HOLD, variables: vars((f) => ({ id: f.reportId })), expect: 'FORBIDDEN' },
  { name: 'releaseReport: someone else’s report', query: RELEASE, variables: vars((f) => ({ id: f.reportId })), as: 'bob', expect: 'NOT_FOUND' },
  { name: 'eraseReport: a user, on their own report', query: ERASE, variables: vars((f) => ({ id: f.reportId, reason: 'r' })), expect: 'FORBIDDEN' },
  { name: 'eraseReport: someone else’s report', query: ERASE, variables: vars((f) => ({ id: f.reportId, reason: 'r' })), as: 'bob', expect: 'NOT_FOUND' },
  { name: 'eraseReport: an auditor', query: ERASE, variables: vars((f) => ({ id: f.reportId, reason: 'r' })), as: 'auditor', expect: 'FORBIDDEN' },
  { name: 'eraseReport: a blank reason', query: ERASE, variables: vars((f) => ({ id: f.reportId, reason: '  ' })), as: 'admin', expect: 'INVALID_PARAMS' },
  { name: 'eraseReport: NUL in the reason', query: ERASE, variables: vars((f) => ({ id: f.reportId, reason: 'a\u0000' })), as: 'admin', expect: 'INVALID_PARAMS' },
  { name: 'eraseReport: not a UUID', query: ERASE, variables: vars(() => ({ id: '../x', reason: 'r' })), as: 'admin', expect: 'NOT_FOUND' },
  { name: 'eraseReport: no reason', query: ERASE, variables: vars((f) => ({ id: f.reportId })), as: 'admin', expect: REQUEST_ERROR },
  { name: 'holdReport: an auditor', query: HOLD, variables: vars((f) => ({ id: f.reportId })), as: 'auditor', expect: 'FORBIDDEN' },
  { name: 'releaseReport: a user, on their own report', query: RELEASE, variables: vars((f) => ({ id: f.reportId })), expect: 'FORBIDDEN' },
  { name: 'releaseReport: an admin, a report not held', query: RELEASE, variables: vars((f) => ({ id: f.reportId })), as: 'admin', expect: 'NOT_HELD' },
  { name: 'deleteReport: an auditor', query: DELETE, variables: vars((f) => ({ id: f.reportId })), as: 'auditor', expect: 'FORBIDDEN' },
  { name: 'requestReport: an auditor', query: REQUEST, variables: requestRetained('"retainFor":"P1D"'), as: 'auditor', expect: 'FORBIDDEN' },
  { name: 'requestReport: a callbackUrl to loopback (callbacks off here)', query: REQUEST, variables: requestRetained('"callbackUrl":"http://127.0.0.1:1/"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: a callbackUrl of 100 KB', query: REQUEST, variables: requestRetained(`"callbackUrl":"https://a.example.com/${'x'.repeat(100_000)}"`), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: an idempotencyKey with a newline', query: REQUEST, variables: requestRetained('"idempotencyKey":"a\\nb"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: retainFor in years', query: REQUEST, variables: requestRetained('"retainFor":"P1Y"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: retainFor of NUL', query: REQUEST, variables: requestRetained('"retainFor":"\\u0000"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: retainFor past the last date there is', query: REQUEST, variables: requestRetained('"retainFor":"P99999999999D"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: retainFor to the year 21000', query: REQUEST, variables: requestRetained('"retainFor":"P1000000W"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: retainFor of zero', query: REQUEST, variables: requestRetained('"retainFor":"PT0S"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: retainFor negative', query: REQUEST, variables: requestRetained('"retainFor":"-P1D"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: retainFor NaN', query: REQUEST, variables: requestRetained('"retainFor":"NaN"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: retainFor a number', query: REQUEST, variables: requestRetained('"retainFor":3600'), expect: REQUEST_ERROR },
  { name: 'requestReport: expiresAt that is not a date', query: REQUEST, variables: requestRetained('"expiresAt":"tomorrow"'), expect: REQUEST_ERROR },
  { name: 'requestReport: expiresAt in the year 1', query: REQUEST, variables: requestRetained('"expiresAt":"0001-01-01T00:00:00Z"'), expect: 'INVALID_PARAMS' },
  { name: 'reportAt: not a UUID', query: REPORT_AT, variables: vars(() => ({ id: 'nope', position: 1 })), as: 'auditor', expect: 'null' },
  {
    name: 'reportAt: upper-case UUID',
    query: REPORT_AT,
    variables: vars((f) => ({ id: f.reportId.toUpperCase(), position: f.position })),
    as: 'auditor',
    expect: 'ok',
    check: (d, f) => expect(d).toEqual({ reportAt: { __typename: 'QueryReportAtSuccess', data: { reportId: f.reportId } } }),
  },
  // Cursors
  { name: 'reports: a cursor that is not base64 JSON', query: REPORTS, variables: vars(() => ({ after: 'not a cursor {' })), expect: 'INVALID_PARAMS' },
  { name: 'reports: a cursor of truncated JSON', query: REPORTS, variables: vars(() => ({ after: Buffer.from('{"t":"x').toString('base64url') })), expect: 'INVALID_PARAMS' },
  { name: 'reports: a cursor of the wrong shape', query: REPORTS, variables: vars(() => ({ after: Buffer.from('{"t":1,"id":[]}').toString('base64url') })), expect: 'INVALID_PARAMS' },
  { name: 'reports: a NUL cursor', query: REPORTS, variables: vars(() => ({ after: '\u0000' })), expect: 'INVALID_PARAMS' },
  { name: 'events: a cursor that is not a checkpoint', query: EVENTS, variables: vars(() => ({ after: '1:2:3' })), as: 'auditor', expect: 'INVALID_CHECKPOINT' },
  { name: 'events: a transaction id beyond xid8', query: EVENTS, variables: vars(() => ({ after: '99999999999999999999:1' })), as: 'auditor', expect: 'INVALID_CHECKPOINT' },
  { name: 'events: a position beyond bigint', query: EVENTS, variables: vars(() => ({ after: '1:9999999999999999' })), as: 'auditor', expect: 'ok' },
  // Ranges
  { name: 'reports: first 0', query: REPORTS, variables: vars(() => ({ first: 0 })), expect: 'INVALID_PARAMS' },
  { name: 'reports: first over the page size', query: REPORTS, variables: vars(() => ({ first: 101 })), expect: 'INVALID_PARAMS' },
  { name: 'reports: last (backwards)', query: REPORTS, variables: vars(() => ({ last: 5 })), expect: 'INVALID_PARAMS' },
  { name: 'reports: first over Int', query: REPORTS, variables: vars(() => ({ first: 2 ** 33 })), expect: REQUEST_ERROR },
  { name: 'reports: a NUL template filter', query: REPORTS, variables: vars(() => ({ template: 'a\u0000b' })), expect: 'INVALID_PARAMS' },
  { name: 'events: a date that is not one', query: EVENTS, variables: vars(() => ({ since: 'yesterday' })), as: 'auditor', expect: REQUEST_ERROR },
  { name: 'events: dates out of PostgreSQL’s range', query: EVENTS, variables: vars(() => ({ since: '0001-01-01T00:00:00Z', until: '9999-12-31T23:59:59Z' })), as: 'auditor', expect: 'ok' },
  { name: 'events: a NUL stream id', query: EVENTS, variables: vars(() => ({ streamId: 'report-\u0000' })), as: 'auditor', expect: 'INVALID_PARAMS' },
  { name: 'events: first over the page size', query: EVENTS, variables: vars(() => ({ first: 10_000 })), as: 'auditor', expect: /^(INVALID_PARAMS|BAD_USER_INPUT)$/ },
  { name: 'eventProof: a position beyond the log', query: PROOF, variables: vars(() => ({ p: 1e300 })), as: 'auditor', expect: 'EVENT_NOT_FOUND' },
  { name: 'eventProof: a fractional position', query: PROOF, variables: vars(() => ({ p: 1.5 })), as: 'auditor', expect: 'EVENT_NOT_FOUND' },
  { name: 'eventProof: a negative position', query: PROOF, variables: vars(() => ({ p: -1 })), as: 'auditor', expect: 'EVENT_NOT_FOUND' },
  { name: 'reportAt: both position and at', query: REPORT_AT, variables: vars((f) => ({ id: f.reportId, position: 1, at: '2026-01-01T00:00:00Z' })), as: 'auditor', expect: 'INVALID_PARAMS' },
  { name: 'reportAt: a huge position', query: REPORT_AT, variables: vars((f) => ({ id: f.reportId, position: 1e20 })), as: 'auditor', expect: 'EVENT_NOT_FOUND' },
  { name: 'reportAt: the year 1', query: REPORT_AT, variables: vars((f) => ({ id: f.reportId, at: '0001-01-01T00:00:00Z' })), as: 'auditor', expect: 'null' },
  { name: 'verifyLog: a digest that is not one', query: `query($d: String) { verifyLog(fromDigest: $d) { ok } }`, variables: vars(() => ({ d: 'zz\u0000' })), as: 'auditor', expect: 'INVALID_PARAMS' },
  // JSON params
  { name: 'requestReport: NUL in a cell', query: REQUEST, variables: requestWith(table('"a\\u0000b"')), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: a lone surrogate in a cell', query: REQUEST, variables: requestWith(table('"a\\ud800b"')), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: a lone low surrogate in a key', query: REQUEST, variables: requestWith('{"columns":[{"label":"N","key":"n"}],"rows":[{"\\udc00":1}]}'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: NUL in the title', query: REQUEST, variables: requestWith(table('"x"'), '"a\\u0000"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: a lone surrogate in the title', query: REQUEST, variables: requestWith(table('"x"'), '"\\ud83d"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: params nested 5,000 deep (10 KB)', query: REQUEST, variables: requestWith(table(deepObject(5_000))), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: params nested 500,000 deep (1 MB of arrays)', query: REQUEST, variables: requestWith(deepArray(500_000)), expect: /^(INVALID_PARAMS|BAD_REQUEST|BAD_USER_INPUT)$/ },
  { name: 'requestReport: params over 1 MiB (under the body limit)', query: REQUEST, variables: requestWith(table(JSON.stringify('x'.repeat(1_100_000)))), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: params a string', query: REQUEST, variables: requestWith('"rows"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: an unknown template with NUL', query: REQUEST, variables: requestWith('{}', '"t"', '"tab\\u0000le"'), expect: 'INVALID_PARAMS' },
  { name: 'requestReport: history of a report that is not yours', query: REQUEST, variables: (f) => requestWith(`{"reportId":"${f.reportId.toUpperCase()}"}`, '"t"', '"history"')(), as: 'bob', expect: 'NOT_FOUND' },
  { name: 'requestReport: input a string', query: REQUEST, variables: () => '{"input":"table"}', expect: REQUEST_ERROR },
  // graphql-ws refuses a malformed message by closing with its typed 4400 (Bad Request).
  { name: 'requestReport: variables an array', query: REQUEST, variables: () => '[1,2]', expect: /^(BAD_USER_INPUT|BAD_REQUEST|socket closed 4400)$/ },
  { name: 'forgetVolume: not a machine id', query: FORGET, variables: vars(() => ({ machine: 'a b\u0000' })), as: 'admin', expect: 'INVALID_PARAMS' },
  { name: 'forgetVolume: NUL in the reason', query: FORGET, variables: vars(() => ({ machine: 'gone-1', reason: 'x\u0000' })), as: 'admin', expect: 'INVALID_PARAMS' },
  { name: 'forgetVolume: a lone surrogate in the reason', query: FORGET, variables: vars(() => ({ machine: 'gone-1', reason: '\udfff' })), as: 'admin', expect: 'INVALID_PARAMS' },
  { name: 'forgetVolume: a machine never seen', query: FORGET, variables: vars(() => ({ machine: 'never-seen' })), as: 'admin', expect: 'NOT_FOUND' },
  // Queries themselves
  { name: 'a query that does not parse', query: '{ me { id ', expect: REQUEST_ERROR },
  { name: 'a query 4,000 levels deep', query: `{ ${'me { '.repeat(4000)}id${' }'.repeat(4000)} }`, expect: REQUEST_ERROR },
  { name: 'an unknown field', query: '{ nope }', expect: REQUEST_ERROR },
  { name: 'a query with NUL in a string literal', query: '{ report(id: "\u0000") { reportId } }', expect: /^(null|GRAPHQL_PARSE_FAILED|BAD_USER_INPUT)$/ },
  // Subscriptions
  { name: 'reportStatus: not a UUID', query: SUBSCRIBE_STATUS, variables: vars(() => ({ id: 'garbage\u0000' })), expect: 'NOT_FOUND', transports: SUBSCRIPTION },
  {
    name: 'reportStatus: upper-case UUID',
    query: SUBSCRIBE_STATUS,
    variables: vars((f) => ({ id: f.reportId.toUpperCase() })),
    expect: 'ok',
    check: (d, f) => expect(d).toEqual({ reportStatus: { reportId: f.reportId, status: 'REQUESTED' } }),
    transports: SUBSCRIPTION,
  },
  { name: 'reportProgress: a lone surrogate id', query: SUBSCRIBE_PROGRESS, variables: vars(() => ({ id: '\ud800' })), expect: 'NOT_FOUND', transports: SUBSCRIPTION },
  { name: 'events subscription: a bad checkpoint', query: SUBSCRIBE_EVENTS, variables: vars(() => ({ after: 'zzz' })), as: 'auditor', expect: 'INVALID_CHECKPOINT', transports: SUBSCRIPTION },
  { name: 'events subscription: a checkpoint beyond xid8', query: SUBSCRIBE_EVENTS, variables: vars(() => ({ after: '99999999999999999999:0' })), as: 'auditor', expect: 'INVALID_CHECKPOINT', transports: SUBSCRIPTION },
  { name: 'migrationProgress subscription: a user', query: SUBSCRIBE_MIGRATION, expect: 'FORBIDDEN', transports: SUBSCRIPTION },
];

interface HttpCase {
  name: string;
  method?: string;
  target: (f: Fixture) => string;
  headers?: (f: Fixture, tokens: Record<Who, string>) => Record<string, string>;
  body?: string | Buffer;
  status: number;
  /** error.code (REST) or errors[0].extensions.code (GraphQL); undefined for a success. */
  code?: string;
}

const bearer = (who: Who) => (_: Fixture, tokens: Record<Who, string>) => ({ authorization: `Bearer ${tokens[who]}` });
const json = { 'content-type': 'application/json' };

const HTTP_CASES: HttpCase[] = [
  { name: 'download: malformed percent-encoding', target: () => '/reports/%ZZ/download', headers: bearer('alice'), status: 400, code: 'BAD_REQUEST' },
  { name: 'download: a lone percent sign', target: () => '/reports/%/download', headers: bearer('alice'), status: 400, code: 'BAD_REQUEST' },
  { name: 'download: overlong UTF-8 (%C0%80)', target: () => '/reports/%C0%80/download', headers: bearer('alice'), status: 400, code: 'BAD_REQUEST' },
  { name: 'download: an encoded NUL', target: () => '/reports/%00/download', headers: bearer('alice'), status: 404, code: 'NOT_FOUND' },
  { name: 'download: raw non-ASCII bytes in the path (refused by the parser)', target: () => '/reports/\xff\xfe/download', headers: bearer('alice'), status: 400, code: 'BAD_REQUEST' },
  { name: 'download: an upper-case UUID finds the report', target: (f) => `/reports/${f.reportId.toUpperCase()}/download`, headers: bearer('alice'), status: 409, code: 'NOT_READY' },
  { name: 'download: someone else’s report', target: (f) => `/reports/${f.reportId}/download`, headers: bearer('bob'), status: 404, code: 'NOT_FOUND' },
  { name: 'download: no token', target: (f) => `/reports/${f.reportId}/download`, status: 401, code: 'UNAUTHENTICATED' },
  { name: 'download: a Basic credential', target: (f) => `/reports/${f.reportId}/download`, headers: () => ({ authorization: 'Basic YWxpY2U6eA==' }), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'download: a bearer of latin-1 bytes', target: (f) => `/reports/${f.reportId}/download`, headers: () => ({ authorization: 'Bearer \xff\xfe\xfd' }), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'download: an 8 KB bearer', target: (f) => `/reports/${f.reportId}/download`, headers: () => ({ authorization: `Bearer ${'a'.repeat(8000)}` }), status: 401, code: 'UNAUTHENTICATED' },
  { name: 'download: POST', method: 'POST', target: (f) => `/reports/${f.reportId}/download`, headers: bearer('alice'), body: '{}', status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'files: a token that is not one', target: () => '/files/not.a.token', status: 403, code: 'FORBIDDEN' },
  { name: 'files: a token 5,000 characters long', target: () => `/files/${'a'.repeat(5000)}`, status: 404, code: 'NOT_FOUND' },
  { name: 'files: malformed percent-encoding', target: () => '/files/%ZZ', status: 404, code: 'NOT_FOUND' },
  { name: 'files: a range beyond the file', target: (f) => `/files/${f.fileToken}`, headers: () => ({ range: 'bytes=999999-' }), status: 416 },
  { name: 'files: a malformed range (whole file)', target: (f) => `/files/${f.fileToken}`, headers: () => ({ range: 'bytes=abc' }), status: 200 },
  { name: 'files: an inverted range', target: (f) => `/files/${f.fileToken}`, headers: () => ({ range: 'bytes=5-1' }), status: 416 },
  { name: 'files: a thousand ranges (combined into one)', target: (f) => `/files/${f.fileToken}`, headers: () => ({ range: `bytes=${Array.from({ length: 1000 }, (_, i) => `${i % 40}-${i % 40}`).join(',')}` }), status: 206 },
  { name: 'files: a garbage If-None-Match', target: (f) => `/files/${f.fileToken}`, headers: () => ({ 'if-none-match': '\xff,,,"' }), status: 200 },
  { name: 'an unknown route', target: () => '/nope/%ZZ', status: 404, code: 'NOT_FOUND' },
  { name: 'a request target that is not a URL', target: () => '//[', status: 400, code: 'BAD_REQUEST' },
  { name: 'an absolute-form target', target: () => 'http://elsewhere.example/healthz', status: 200 },
  { name: 'healthz with a malformed query string', target: () => '/healthz?%ZZ=%', status: 200 },
  { name: 'readyz: PUT', method: 'PUT', target: () => '/readyz', body: 'x', status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'ui: malformed percent-encoding', target: () => '/ui/%ZZ', status: 404, code: 'NOT_FOUND' },
  { name: 'headers over 16 KB', target: () => '/healthz', headers: () => ({ 'x-pad': 'a'.repeat(20_000) }), status: 431, code: 'HEADERS_TOO_LARGE' },
  { name: 'a Content-Length that is not a number', method: 'POST', target: () => '/graphql', headers: () => ({ ...json, 'content-length': 'abc' }), body: '{}', status: 400, code: 'BAD_REQUEST' },
  { name: 'graphql: a chunked body (no length)', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t), 'transfer-encoding': 'chunked' }), body: '2\r\n{}\r\n0\r\n\r\n', status: 411, code: 'BAD_REQUEST' },
  { name: 'graphql: a body over the limit', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t), 'content-length': String(10 * 1024 * 1024) }), body: '{}', status: 413, code: 'BAD_REQUEST' },
  { name: 'graphql: text/plain', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ 'content-type': 'text/plain', ...bearer('alice')(f, t) }), body: '{"query":"{ me { id } }"}', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'graphql: no content type', method: 'POST', target: () => '/graphql', headers: bearer('alice'), body: '{"query":"{ me { id } }"}', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'graphql: JSON cut short', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: '{"query":', status: 400, code: 'BAD_REQUEST' },
  { name: 'graphql: a UTF-16 body', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: Buffer.from('{"query":"{ me { id } }"}', 'utf16le'), status: 400, code: 'BAD_REQUEST' },
  { name: 'graphql: random non-UTF-8 bytes', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: Buffer.from(Array.from({ length: 512 }, (_, i) => 0x80 + (i % 128))), status: 400, code: 'BAD_REQUEST' },
  {
    name: 'graphql: invalid UTF-8 inside a string (decoded as U+FFFD)',
    method: 'POST',
    target: () => '/graphql',
    headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }),
    body: Buffer.concat([Buffer.from('{"query":"query($x: String) { me { id } }","variables":{"x":"'), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('"}}')]),
    status: 200,
  },
  { name: 'graphql: JSON nested 500,000 deep', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: `{"query":"{ me { id } }","extensions":${deepArray(500_000)}}`, status: 400, code: 'BAD_REQUEST' },
  { name: 'graphql: no query', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: '{}', status: 200, code: 'BAD_REQUEST' },
  { name: 'graphql: a mutation over GET', target: () => `/graphql?query=${encodeURIComponent('mutation { retryReport(id: "x") { __typename } }')}`, headers: bearer('alice'), status: 405, code: 'BAD_REQUEST' },
  { name: 'graphql: GET with variables that are not JSON', target: () => `/graphql?query=${encodeURIComponent('{ me { id } }')}&variables=%5B`, headers: bearer('alice'), status: 400, code: 'BAD_REQUEST' },
  { name: 'graphql: GET with extensions that are not JSON', target: () => `/graphql?query=${encodeURIComponent('{ me { id } }')}&extensions=%7B`, headers: bearer('alice'), status: 400, code: 'BAD_REQUEST' },
  { name: 'graphql: GET with malformed percent-encoding', target: () => '/graphql?query=%ZZ', headers: bearer('alice'), status: 200, code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'graphql: a bearer of garbage', method: 'POST', target: () => '/graphql', headers: () => ({ ...json, authorization: 'Bearer \xff.\xfe.\xfd' }), body: '{"query":"{ me { id } }"}', status: 401, code: 'UNAUTHENTICATED' },
  { name: 'graphql: a persisted hash that is a number', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":123}}}`, status: 200, code: 'BAD_REQUEST' },
  { name: 'graphql: a persisted hash that is an object', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":{"a":1}}}}`, status: 200, code: 'BAD_REQUEST' },
  { name: 'graphql: a persisted hash of 100 KB', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"${'f'.repeat(100_000)}"}}}`, status: 400, code: 'PERSISTED_DOCUMENT_NOT_FOUND' },
  { name: 'graphql: a persisted hash with a newline and NUL', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ab\\n\\u0000cd"}}}`, status: 400, code: 'PERSISTED_DOCUMENT_NOT_FOUND' },
  { name: 'graphql: a persisted query of version 2', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: `{"extensions":{"persistedQuery":{"version":2,"sha256Hash":"00"}}}`, status: 200, code: 'BAD_REQUEST' },
  { name: 'graphql: a persisted query that is null', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t) }), body: `{"extensions":{"persistedQuery":null}}`, status: 200, code: 'BAD_REQUEST' },
  { name: 'graphql: an x-request-id with a newline', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t), 'x-request-id': 'a\\nb' }), body: '{"query":"{ me { id } }"}', status: 200 },
  { name: 'graphql: an x-request-id of 10 KB', method: 'POST', target: () => '/graphql', headers: (f, t) => ({ ...json, ...bearer('alice')(f, t), 'x-request-id': 'r'.repeat(10_000) }), body: '{"query":"{ me { id } }"}', status: 200 },
];

/** What the answer amounts to: a code, 'null' (a nullable field answered null), or 'ok'. */
function outcome(answer: GraphQLAnswer): string {
  if (answer.closed !== undefined) return `socket closed ${answer.closed}`;
  const r = answer.result;
  if (!r) return 'no result';
  if (r.errors?.length) return r.errors[0]!.extensions?.code ?? `no code: ${r.errors[0]!.message}`;
  const value = Object.values((r.data ?? {}) as Record<string, unknown>)[0];
  if (value === null) return 'null';
  if (value && typeof value === 'object' && 'code' in value) return String((value as { code: unknown }).code);
  return 'ok';
}

describe.each(backends)('bad input never becomes a 500, on %s', (kind) => {
  let runtime: TestRuntime;
  let http: HttpServer;
  const tokens = {} as Record<Who, string>;
  const fixture = {} as Fixture;

  const logSize = async () => Number((await runtime.database.db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const healthy = async () => {
    expect((await rawHttp(http.url, { target: '/healthz' })).status).toBe(200);
    const me = await rawGraphQLHttp(http.url, '{"query":"{ me { id } }"}', tokens.alice);
    expect(me.result).toEqual({ data: { me: { id: 'alice' } } });
  };

  beforeAll(async () => {
    // No workers: alice's report stays REQUESTED. Many requestReport cases: a budget they do not exhaust.
    runtime = await startTestRuntime(kind, { REQUESTS_PER_MINUTE: '100000' });
    http = await startHttpServer(runtime, 0, '127.0.0.1');
    tokens.alice = await runtime.userTokens.sign({ id: 'alice', role: 'user' }, 3600);
    tokens.bob = await runtime.userTokens.sign({ id: 'bob', role: 'user' }, 3600);
    tokens.auditor = await runtime.userTokens.sign({ id: 'audrey', role: 'auditor' }, 3600);
    tokens.admin = await runtime.userTokens.sign({ id: 'ada', role: 'admin' }, 3600);
    tokens.nobody = '';
    const created = await rawGraphQLHttp(
      http.url,
      JSON.stringify({
        query: 'mutation($input: RequestReportInput!) { requestReport(input: $input) { ... on MutationRequestReportSuccess { data { reportId } } } }',
        variables: { input: { template: 'table', title: 'fixture', params: { columns: [{ label: 'N', key: 'n' }], rows: [{ n: 1 }] } } },
      }),
      tokens.alice,
    );
    fixture.reportId = (created.result!.data as { requestReport: { data: { reportId: string } } }).requestReport.data.reportId;
    fixture.position = Number((await runtime.database.db.selectFrom('events').select('global_position').executeTakeFirstOrThrow()).global_position);
    const bytes = Buffer.from('%PDF-1.4 not really a pdf, but bytes to range over\n');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await runtime.objectStore.put('fixtures/range.pdf', bytes, { bytes: bytes.length, sha256 });
    fixture.fileToken = (
      await runtime.fileTokens.sign({ reportId: fixture.reportId, key: 'fixtures/range.pdf', location: 'object', region: null, machine: null, sha256, filename: 'range.pdf' }, 3600)
    ).token;
  }, 60_000);

  afterAll(async () => {
    await http?.close();
    await runtime?.close();
  });

  for (const c of GRAPHQL_CASES) {
    for (const transport of c.transports ?? (['http', 'ws'] as Transport[])) {
      it(`${c.name} (${transport})`, { timeout: 60_000 }, async () => {
        const before = await logSize();
        const body = `{"query":${JSON.stringify(c.query)}${c.variables ? `,"variables":${c.variables(fixture)}` : ''}}`;
        const token = tokens[c.as ?? 'alice'];
        const answer = transport === 'ws' ? await rawGraphQLWs(http.url, body, token) : await rawGraphQLHttp(http.url, body, token, { sse: transport === 'sse' });
        expect(answer.status).toBeLessThan(500);
        const got = outcome(answer);
        if (typeof c.expect === 'string') expect(got).toBe(c.expect);
        else expect(got).toMatch(c.expect);
        if (c.check) c.check(answer.result!.data as Record<string, unknown>, fixture);
        expect(await logSize()).toBe(before);
        await healthy();
      });
    }
  }

  for (const c of HTTP_CASES) {
    it(`${c.name} (HTTP ${c.method ?? 'GET'})`, { timeout: 60_000 }, async () => {
      const before = await logSize();
      const res = await rawHttp(http.url, { method: c.method ?? 'GET', target: c.target(fixture), headers: c.headers?.(fixture, tokens) ?? {}, ...(c.body ? { body: c.body } : {}) });
      expect(res.status).toBeLessThan(500);
      expect(res.status).toBe(c.status);
      if (c.code !== undefined) {
        const parsed = JSON.parse(res.body) as { error?: { code?: string }; errors?: Array<{ extensions?: { code?: string } }> };
        expect(parsed.error?.code ?? parsed.errors?.[0]?.extensions?.code).toBe(c.code);
      }
      expect(await logSize()).toBe(before);
      await healthy();
    });
  }

  it('the metrics port answers a request target that is not a URL with 400, and keeps serving', async () => {
    const metrics = await startMetricsServer(runtime.metrics, 0, '127.0.0.1');
    try {
      for (const target of ['//[', '/%ZZ', '/metrics?%ZZ']) expect((await rawHttp(metrics.url, { target })).status).toBeLessThan(500);
      expect((await rawHttp(metrics.url, { target: '//[' })).status).toBe(400);
      expect((await rawHttp(metrics.url, { target: '/metrics' })).status).toBe(200);
    } finally {
      await metrics.close();
    }
  });

  it('every report and every event is accounted for: the fixture’s one request, nothing else', async () => {
    const events = await runtime.database.db.selectFrom('events').select(['type', 'stream_id']).execute();
    expect(events).toEqual([{ type: 'ReportRequested', stream_id: `report-${fixture.reportId}` }]);
    const reports = await runtime.database.db.selectFrom('report_status').select(['report_id', 'status']).execute();
    expect(reports).toEqual([{ report_id: fixture.reportId, status: 'REQUESTED' }]);
  });
});
