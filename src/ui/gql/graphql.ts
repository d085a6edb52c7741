/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type DownloadSource =
  | 'LOCAL_VOLUME'
  | 'OBJECT_STORE'
  | 'REMOTE_VOLUME';

export type LocationKind =
  | 'OBJECT'
  | 'VOLUME';

export type PdfStandard =
  /** PDF/A-2b (ISO 19005-2, level B): fonts embedded, XMP metadata, an sRGB output intent. */
  | 'PDF_A_2B';

export type ReportStatus =
  | 'DELETED'
  | 'ERASED'
  | 'EXPIRED'
  | 'FAILED'
  | 'IMPORTED'
  | 'LOST'
  | 'RENDERED'
  | 'REPLICATED'
  | 'REQUESTED'
  | 'STORED';

export type RequestReportInput = {
  /** Where quire POSTs a signed JSON body (Standard Webhooks) when the report becomes STORED, REPLICATED or FAILED. https only in production; the host must be on WEBHOOK_ALLOWED_HOSTS and, in production, resolve to public addresses only. */
  callbackUrl?: string | null | undefined;
  /** When the report expires (in the future, at most RETENTION_MAX from now); not with retainFor. */
  expiresAt?: string | null | undefined;
  /** Your key for this request (1–100 of A–Z a–z 0–9 _.:-, e.g. a UUID). Sending the same request again with the same key within IDEMPOTENCY_WINDOW (a day by default) returns the same report (no new events, no second render) instead of a second one; the same key with a different request is a ConflictError. */
  idempotencyKey?: string | null | undefined;
  /** The template’s parameters (validated against its schema; at most 1 MiB). */
  params: unknown;
  /** Render to this archival standard; null: the template’s default (history: PDF/A-2b, the others: none). */
  pdfStandard?: PdfStandard | null | undefined;
  /** How long to keep the report, as an ISO-8601 duration of weeks, days, hours, minutes, seconds (P30D, PT12H). At most RETENTION_MAX; not with expiresAt. Neither: the template’s default (RETENTION_DEFAULT), or kept until deleted. */
  retainFor?: string | null | undefined;
  /** table, summary or history */
  template: string;
  title: string;
};

export type Role =
  | 'ADMIN'
  | 'AUDITOR'
  | 'USER';

export type ReportViewFragment = { reportId: string, title: string, template: string, status: ReportStatus, owner: string, requestedAt: string, requestedRegion: string, updatedAt: string, attempts: number, lastError: string | null, failedStage: string | null, nextAttemptAt: string | null, expiresAt: string | null, held: boolean, goneAt: string | null, pages: number | null, bytes: number | null, sha256: string | null, version: number, callbackUrl: string | null, locations: Array<{ kind: LocationKind, region: string | null, machine: string | null, bucket: string | null, bytes: number, storedAt: string }>, downloadable: { available: boolean, reason: string | null, source: DownloadSource | null, region: string | null, machine: string | null }, history: Array<{ streamVersion: number, type: string, recordedAt: string, hash: string, prevHash: string, metadata: { region: string, machine: string | null, actor: string | null } }> };

export type UiCreateDownloadUrlMutationVariables = Exact<{
  reportId: string | number;
}>;


export type UiCreateDownloadUrlMutation = { createDownloadUrl:
    | { __typename: 'FailedError', code: string, message: string, reason: string }
    | { __typename: 'GoneError', code: string, message: string, status: ReportStatus }
    | { __typename: 'InvalidParamsError', code: string, message: string }
    | { __typename: 'MutationCreateDownloadUrlSuccess', data: { url: string, expiresAt: string, source: DownloadSource, region: string | null } }
    | { __typename: 'NotFoundError', code: string, message: string }
    | { __typename: 'NotReadyError', code: string, message: string, status: ReportStatus }
    | { __typename: 'ObjectStoreUnavailableError', code: string, message: string }
    | { __typename: 'UnavailableError', code: string, message: string, regions: Array<string> }
   };

export type UiDeleteReportMutationVariables = Exact<{
  id: string | number;
}>;


export type UiDeleteReportMutation = { deleteReport:
    | { __typename: 'ConflictError', code: string, message: string }
    | { __typename: 'ForbiddenError', code: string, message: string }
    | { __typename: 'GoneError', code: string, message: string }
    | { __typename: 'HeldError', code: string, message: string }
    | { __typename: 'InvalidParamsError', code: string, message: string }
    | { __typename: 'MutationDeleteReportSuccess', data: { reportId: string, status: ReportStatus } }
    | { __typename: 'NotFoundError', code: string, message: string }
   };

export type UiEraseReportMutationVariables = Exact<{
  id: string | number;
  reason: string;
}>;


export type UiEraseReportMutation = { eraseReport:
    | { __typename: 'ConflictError', code: string, message: string }
    | { __typename: 'ErasureUnsupportedError', code: string, message: string }
    | { __typename: 'ForbiddenError', code: string, message: string }
    | { __typename: 'HeldError', code: string, message: string }
    | { __typename: 'InvalidParamsError', code: string, message: string }
    | { __typename: 'MutationEraseReportSuccess', data: { reportId: string, status: ReportStatus } }
    | { __typename: 'NotFoundError', code: string, message: string }
   };

export type UiEventsQueryVariables = Exact<{
  first: number;
  after?: string | null | undefined;
}>;


export type UiEventsQuery = { events: { edges: Array<{ cursor: string, node: { globalPosition: number, type: string, streamId: string, streamVersion: number, recordedAt: string, hash: string, prevHash: string } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type UiLogDigestQueryVariables = Exact<{ [key: string]: never; }>;


export type UiLogDigestQuery = { logDigest: { seq: number, sealHash: string, merkleRoot: string, checkpoint: string, position: number, eventCount: number, sealedAt: string } | null };

export type UiMeQueryVariables = Exact<{ [key: string]: never; }>;


export type UiMeQuery = { me: { id: string, role: Role } };

export type UiReportProgressSubscriptionVariables = Exact<{
  id: string | number;
}>;


export type UiReportProgressSubscription = { reportProgress: { reportId: string, fraction: number } };

export type UiReportStatusSubscriptionVariables = Exact<{
  id: string | number;
}>;


export type UiReportStatusSubscription = { reportStatus: { reportId: string, title: string, template: string, status: ReportStatus, owner: string, requestedAt: string, requestedRegion: string, updatedAt: string, attempts: number, lastError: string | null, failedStage: string | null, nextAttemptAt: string | null, expiresAt: string | null, held: boolean, goneAt: string | null, pages: number | null, bytes: number | null, sha256: string | null, version: number, callbackUrl: string | null, locations: Array<{ kind: LocationKind, region: string | null, machine: string | null, bucket: string | null, bytes: number, storedAt: string }>, downloadable: { available: boolean, reason: string | null, source: DownloadSource | null, region: string | null, machine: string | null }, history: Array<{ streamVersion: number, type: string, recordedAt: string, hash: string, prevHash: string, metadata: { region: string, machine: string | null, actor: string | null } }> } };

export type UiReportsQueryVariables = Exact<{
  first: number;
  after?: string | null | undefined;
}>;


export type UiReportsQuery = { reports: { edges: Array<{ cursor: string, node: { reportId: string, title: string, template: string, status: ReportStatus, requestedAt: string } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type UiRequestReportMutationVariables = Exact<{
  input: RequestReportInput;
}>;


export type UiRequestReportMutation = { requestReport:
    | { __typename: 'ConflictError', code: string, message: string }
    | { __typename: 'ForbiddenError', code: string, message: string }
    | { __typename: 'GoneError', code: string, message: string }
    | { __typename: 'InvalidParamsError', code: string, message: string, issues: Array<{ path: string, message: string }> }
    | { __typename: 'MutationRequestReportSuccess', data: { reportId: string, title: string, template: string, status: ReportStatus, requestedAt: string } }
    | { __typename: 'NotFoundError', code: string, message: string }
    | { __typename: 'RateLimitedError', code: string, message: string, retryAfterSeconds: number }
   };

export type UiRetryReportMutationVariables = Exact<{
  id: string | number;
}>;


export type UiRetryReportMutation = { retryReport:
    | { __typename: 'ConflictError', code: string, message: string }
    | { __typename: 'ForbiddenError', code: string, message: string }
    | { __typename: 'GoneError', code: string, message: string }
    | { __typename: 'MutationRetryReportSuccess', data: { reportId: string, status: ReportStatus } }
    | { __typename: 'NotFoundError', code: string, message: string }
    | { __typename: 'NotRetryableError', code: string, message: string, status: ReportStatus }
   };

export type UiTemplatesQueryVariables = Exact<{ [key: string]: never; }>;


export type UiTemplatesQuery = { templates: Array<{ name: string, description: string, paramsSchema: unknown }> };

export type UiViewerReportsSubscriptionVariables = Exact<{ [key: string]: never; }>;


export type UiViewerReportsSubscription = { viewerReports: { reportId: string, progress: number | null, report: { reportId: string, title: string, template: string, status: ReportStatus, requestedAt: string } | null } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ReportViewFragmentDoc = new TypedDocumentString(`
    fragment ReportView on Report {
  reportId
  title
  template
  status
  owner
  requestedAt
  requestedRegion
  updatedAt
  attempts
  lastError
  failedStage
  nextAttemptAt
  expiresAt
  held
  goneAt
  pages
  bytes
  sha256
  version
  callbackUrl
  locations {
    kind
    region
    machine
    bucket
    bytes
    storedAt
  }
  downloadable {
    available
    reason
    source
    region
    machine
  }
  history {
    streamVersion
    type
    recordedAt
    hash
    prevHash
    metadata {
      region
      machine
      actor
    }
  }
}
    `, {"fragmentName":"ReportView"}) as unknown as TypedDocumentString<ReportViewFragment, unknown>;
export const UiCreateDownloadUrlDocument = new TypedDocumentString(`
    mutation UiCreateDownloadUrl($reportId: ID!) {
  createDownloadUrl(reportId: $reportId) {
    __typename
    ... on MutationCreateDownloadUrlSuccess {
      data {
        url
        expiresAt
        source
        region
      }
    }
    ... on Error {
      code
      message
    }
    ... on NotReadyError {
      status
    }
    ... on UnavailableError {
      regions
    }
    ... on GoneError {
      status
    }
    ... on FailedError {
      reason
    }
  }
}
    `, {"hash":"21b2e3a29128aabda8ae04b880af77eb752ac68e620bfb46687ad439d2a32c24"}) as unknown as TypedDocumentString<UiCreateDownloadUrlMutation, UiCreateDownloadUrlMutationVariables>;
export const UiDeleteReportDocument = new TypedDocumentString(`
    mutation UiDeleteReport($id: ID!) {
  deleteReport(id: $id) {
    __typename
    ... on MutationDeleteReportSuccess {
      data {
        reportId
        status
      }
    }
    ... on Error {
      code
      message
    }
  }
}
    `, {"hash":"ed44a5ca877d35f429c10a815ff00e64ba68fa4705330b0bda0012dbfc0267ec"}) as unknown as TypedDocumentString<UiDeleteReportMutation, UiDeleteReportMutationVariables>;
export const UiEraseReportDocument = new TypedDocumentString(`
    mutation UiEraseReport($id: ID!, $reason: String!) {
  eraseReport(id: $id, reason: $reason) {
    __typename
    ... on MutationEraseReportSuccess {
      data {
        reportId
        status
      }
    }
    ... on Error {
      code
      message
    }
  }
}
    `, {"hash":"7d92699071495d0f1803aae0b8d5ce6825733bb2eba3024c9269737d24f895bb"}) as unknown as TypedDocumentString<UiEraseReportMutation, UiEraseReportMutationVariables>;
export const UiEventsDocument = new TypedDocumentString(`
    query UiEvents($first: Int!, $after: String) {
  events(first: $first, after: $after) {
    edges {
      cursor
      node {
        globalPosition
        type
        streamId
        streamVersion
        recordedAt
        hash
        prevHash
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `, {"hash":"43dba7819ac4453e69b0573f8f3a921c9df79b4a17358a7ef687d0a4462b1fd2"}) as unknown as TypedDocumentString<UiEventsQuery, UiEventsQueryVariables>;
export const UiLogDigestDocument = new TypedDocumentString(`
    query UiLogDigest {
  logDigest {
    seq
    sealHash
    merkleRoot
    checkpoint
    position
    eventCount
    sealedAt
  }
}
    `, {"hash":"83e0e59235effcb36fceb7f01d41582995315cb278409675a2133ed12ea059e2"}) as unknown as TypedDocumentString<UiLogDigestQuery, UiLogDigestQueryVariables>;
export const UiMeDocument = new TypedDocumentString(`
    query UiMe {
  me {
    id
    role
  }
}
    `, {"hash":"6b305b7d4a2a1cbd52ec9c679f66fbd79c4c9dcbdcbb9fa2622e18b3c0543b45"}) as unknown as TypedDocumentString<UiMeQuery, UiMeQueryVariables>;
export const UiReportProgressDocument = new TypedDocumentString(`
    subscription UiReportProgress($id: ID!) {
  reportProgress(id: $id) {
    reportId
    fraction
  }
}
    `, {"hash":"afe9fedffcb9860683413030307a668dbe312d65fa3479c1874378c1f9e214e9"}) as unknown as TypedDocumentString<UiReportProgressSubscription, UiReportProgressSubscriptionVariables>;
export const UiReportStatusDocument = new TypedDocumentString(`
    subscription UiReportStatus($id: ID!) {
  reportStatus(id: $id) {
    ...ReportView
  }
}
    fragment ReportView on Report {
  reportId
  title
  template
  status
  owner
  requestedAt
  requestedRegion
  updatedAt
  attempts
  lastError
  failedStage
  nextAttemptAt
  expiresAt
  held
  goneAt
  pages
  bytes
  sha256
  version
  callbackUrl
  locations {
    kind
    region
    machine
    bucket
    bytes
    storedAt
  }
  downloadable {
    available
    reason
    source
    region
    machine
  }
  history {
    streamVersion
    type
    recordedAt
    hash
    prevHash
    metadata {
      region
      machine
      actor
    }
  }
}`, {"hash":"83c09fef13ebada79612846f708bd10e078781689f44ddd20c67219457294202"}) as unknown as TypedDocumentString<UiReportStatusSubscription, UiReportStatusSubscriptionVariables>;
export const UiReportsDocument = new TypedDocumentString(`
    query UiReports($first: Int!, $after: String) {
  reports(first: $first, after: $after) {
    edges {
      cursor
      node {
        reportId
        title
        template
        status
        requestedAt
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `, {"hash":"f8625cf9ce638d411b4d88af108ae57c9804c6e03d7c3583df96d72d58451e28"}) as unknown as TypedDocumentString<UiReportsQuery, UiReportsQueryVariables>;
export const UiRequestReportDocument = new TypedDocumentString(`
    mutation UiRequestReport($input: RequestReportInput!) {
  requestReport(input: $input) {
    __typename
    ... on MutationRequestReportSuccess {
      data {
        reportId
        title
        template
        status
        requestedAt
      }
    }
    ... on Error {
      code
      message
    }
    ... on InvalidParamsError {
      issues {
        path
        message
      }
    }
    ... on RateLimitedError {
      retryAfterSeconds
    }
  }
}
    `, {"hash":"d8117c35a6509191521831063962d169b4d5f2bc4153bdd62b3dc9d2b97ca8d3"}) as unknown as TypedDocumentString<UiRequestReportMutation, UiRequestReportMutationVariables>;
export const UiRetryReportDocument = new TypedDocumentString(`
    mutation UiRetryReport($id: ID!) {
  retryReport(id: $id) {
    __typename
    ... on MutationRetryReportSuccess {
      data {
        reportId
        status
      }
    }
    ... on Error {
      code
      message
    }
    ... on NotRetryableError {
      status
    }
  }
}
    `, {"hash":"0fd8b90b5ef89618ebcd36f674fb19873e88a36084072e8ef19a7897fc4fa318"}) as unknown as TypedDocumentString<UiRetryReportMutation, UiRetryReportMutationVariables>;
export const UiTemplatesDocument = new TypedDocumentString(`
    query UiTemplates {
  templates {
    name
    description
    paramsSchema
  }
}
    `, {"hash":"f9fcd744f4163ea94682908a72c5813e8225bfb5df8cc969d86ee65bb075970b"}) as unknown as TypedDocumentString<UiTemplatesQuery, UiTemplatesQueryVariables>;
export const UiViewerReportsDocument = new TypedDocumentString(`
    subscription UiViewerReports {
  viewerReports {
    reportId
    progress
    report {
      reportId
      title
      template
      status
      requestedAt
    }
  }
}
    `, {"hash":"ddcef41063a43159944df97cf3cac470e95cecee5d9646b015dddc2a8cc97de4"}) as unknown as TypedDocumentString<UiViewerReportsSubscription, UiViewerReportsSubscriptionVariables>;