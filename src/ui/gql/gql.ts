/* eslint-disable */
import * as types from './graphql.js';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "fragment ReportView on Report {\n  reportId\n  title\n  template\n  status\n  owner\n  requestedAt\n  requestedRegion\n  updatedAt\n  attempts\n  lastError\n  failedStage\n  nextAttemptAt\n  expiresAt\n  held\n  goneAt\n  pages\n  bytes\n  sha256\n  version\n  callbackUrl\n  locations {\n    kind\n    region\n    machine\n    bucket\n    bytes\n    storedAt\n  }\n  downloadable {\n    available\n    reason\n    source\n    region\n    machine\n  }\n  history {\n    streamVersion\n    type\n    recordedAt\n    hash\n    prevHash\n    metadata {\n      region\n      machine\n      actor\n    }\n  }\n}": typeof types.ReportViewFragmentDoc,
    "mutation UiCreateDownloadUrl($reportId: ID!) {\n  createDownloadUrl(reportId: $reportId) {\n    __typename\n    ... on MutationCreateDownloadUrlSuccess {\n      data {\n        url\n        expiresAt\n        source\n        region\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on NotReadyError {\n      status\n    }\n    ... on UnavailableError {\n      regions\n    }\n    ... on GoneError {\n      status\n    }\n    ... on FailedError {\n      reason\n    }\n  }\n}": typeof types.UiCreateDownloadUrlDocument,
    "mutation UiDeleteReport($id: ID!) {\n  deleteReport(id: $id) {\n    __typename\n    ... on MutationDeleteReportSuccess {\n      data {\n        reportId\n        status\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n  }\n}": typeof types.UiDeleteReportDocument,
    "mutation UiEraseReport($id: ID!, $reason: String!) {\n  eraseReport(id: $id, reason: $reason) {\n    __typename\n    ... on MutationEraseReportSuccess {\n      data {\n        reportId\n        status\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n  }\n}": typeof types.UiEraseReportDocument,
    "query UiEvents($first: Int!, $after: String) {\n  events(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        globalPosition\n        type\n        streamId\n        streamVersion\n        recordedAt\n        hash\n        prevHash\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": typeof types.UiEventsDocument,
    "query UiLogDigest {\n  logDigest {\n    seq\n    sealHash\n    merkleRoot\n    checkpoint\n    position\n    eventCount\n    sealedAt\n  }\n}": typeof types.UiLogDigestDocument,
    "query UiMe {\n  me {\n    id\n    role\n  }\n}": typeof types.UiMeDocument,
    "subscription UiReportProgress($id: ID!) {\n  reportProgress(id: $id) {\n    reportId\n    fraction\n  }\n}": typeof types.UiReportProgressDocument,
    "subscription UiReportStatus($id: ID!) {\n  reportStatus(id: $id) {\n    ...ReportView\n  }\n}": typeof types.UiReportStatusDocument,
    "query UiReports($first: Int!, $after: String) {\n  reports(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        reportId\n        title\n        template\n        status\n        requestedAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": typeof types.UiReportsDocument,
    "mutation UiRequestReport($input: RequestReportInput!) {\n  requestReport(input: $input) {\n    __typename\n    ... on MutationRequestReportSuccess {\n      data {\n        reportId\n        title\n        template\n        status\n        requestedAt\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on InvalidParamsError {\n      issues {\n        path\n        message\n      }\n    }\n    ... on RateLimitedError {\n      retryAfterSeconds\n    }\n  }\n}": typeof types.UiRequestReportDocument,
    "mutation UiRetryReport($id: ID!) {\n  retryReport(id: $id) {\n    __typename\n    ... on MutationRetryReportSuccess {\n      data {\n        reportId\n        status\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on NotRetryableError {\n      status\n    }\n  }\n}": typeof types.UiRetryReportDocument,
    "query UiTemplates {\n  templates {\n    name\n    description\n    paramsSchema\n  }\n}": typeof types.UiTemplatesDocument,
    "subscription UiViewerReports {\n  viewerReports {\n    reportId\n    progress\n    report {\n      reportId\n      title\n      template\n      status\n      requestedAt\n    }\n  }\n}": typeof types.UiViewerReportsDocument,
};
const documents: Documents = {
    "fragment ReportView on Report {\n  reportId\n  title\n  template\n  status\n  owner\n  requestedAt\n  requestedRegion\n  updatedAt\n  attempts\n  lastError\n  failedStage\n  nextAttemptAt\n  expiresAt\n  held\n  goneAt\n  pages\n  bytes\n  sha256\n  version\n  callbackUrl\n  locations {\n    kind\n    region\n    machine\n    bucket\n    bytes\n    storedAt\n  }\n  downloadable {\n    available\n    reason\n    source\n    region\n    machine\n  }\n  history {\n    streamVersion\n    type\n    recordedAt\n    hash\n    prevHash\n    metadata {\n      region\n      machine\n      actor\n    }\n  }\n}": types.ReportViewFragmentDoc,
    "mutation UiCreateDownloadUrl($reportId: ID!) {\n  createDownloadUrl(reportId: $reportId) {\n    __typename\n    ... on MutationCreateDownloadUrlSuccess {\n      data {\n        url\n        expiresAt\n        source\n        region\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on NotReadyError {\n      status\n    }\n    ... on UnavailableError {\n      regions\n    }\n    ... on GoneError {\n      status\n    }\n    ... on FailedError {\n      reason\n    }\n  }\n}": types.UiCreateDownloadUrlDocument,
    "mutation UiDeleteReport($id: ID!) {\n  deleteReport(id: $id) {\n    __typename\n    ... on MutationDeleteReportSuccess {\n      data {\n        reportId\n        status\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n  }\n}": types.UiDeleteReportDocument,
    "mutation UiEraseReport($id: ID!, $reason: String!) {\n  eraseReport(id: $id, reason: $reason) {\n    __typename\n    ... on MutationEraseReportSuccess {\n      data {\n        reportId\n        status\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n  }\n}": types.UiEraseReportDocument,
    "query UiEvents($first: Int!, $after: String) {\n  events(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        globalPosition\n        type\n        streamId\n        streamVersion\n        recordedAt\n        hash\n        prevHash\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": types.UiEventsDocument,
    "query UiLogDigest {\n  logDigest {\n    seq\n    sealHash\n    merkleRoot\n    checkpoint\n    position\n    eventCount\n    sealedAt\n  }\n}": types.UiLogDigestDocument,
    "query UiMe {\n  me {\n    id\n    role\n  }\n}": types.UiMeDocument,
    "subscription UiReportProgress($id: ID!) {\n  reportProgress(id: $id) {\n    reportId\n    fraction\n  }\n}": types.UiReportProgressDocument,
    "subscription UiReportStatus($id: ID!) {\n  reportStatus(id: $id) {\n    ...ReportView\n  }\n}": types.UiReportStatusDocument,
    "query UiReports($first: Int!, $after: String) {\n  reports(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        reportId\n        title\n        template\n        status\n        requestedAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}": types.UiReportsDocument,
    "mutation UiRequestReport($input: RequestReportInput!) {\n  requestReport(input: $input) {\n    __typename\n    ... on MutationRequestReportSuccess {\n      data {\n        reportId\n        title\n        template\n        status\n        requestedAt\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on InvalidParamsError {\n      issues {\n        path\n        message\n      }\n    }\n    ... on RateLimitedError {\n      retryAfterSeconds\n    }\n  }\n}": types.UiRequestReportDocument,
    "mutation UiRetryReport($id: ID!) {\n  retryReport(id: $id) {\n    __typename\n    ... on MutationRetryReportSuccess {\n      data {\n        reportId\n        status\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on NotRetryableError {\n      status\n    }\n  }\n}": types.UiRetryReportDocument,
    "query UiTemplates {\n  templates {\n    name\n    description\n    paramsSchema\n  }\n}": types.UiTemplatesDocument,
    "subscription UiViewerReports {\n  viewerReports {\n    reportId\n    progress\n    report {\n      reportId\n      title\n      template\n      status\n      requestedAt\n    }\n  }\n}": types.UiViewerReportsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment ReportView on Report {\n  reportId\n  title\n  template\n  status\n  owner\n  requestedAt\n  requestedRegion\n  updatedAt\n  attempts\n  lastError\n  failedStage\n  nextAttemptAt\n  expiresAt\n  held\n  goneAt\n  pages\n  bytes\n  sha256\n  version\n  callbackUrl\n  locations {\n    kind\n    region\n    machine\n    bucket\n    bytes\n    storedAt\n  }\n  downloadable {\n    available\n    reason\n    source\n    region\n    machine\n  }\n  history {\n    streamVersion\n    type\n    recordedAt\n    hash\n    prevHash\n    metadata {\n      region\n      machine\n      actor\n    }\n  }\n}"): typeof import('./graphql.js').ReportViewFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UiCreateDownloadUrl($reportId: ID!) {\n  createDownloadUrl(reportId: $reportId) {\n    __typename\n    ... on MutationCreateDownloadUrlSuccess {\n      data {\n        url\n        expiresAt\n        source\n        region\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on NotReadyError {\n      status\n    }\n    ... on UnavailableError {\n      regions\n    }\n    ... on GoneError {\n      status\n    }\n    ... on FailedError {\n      reason\n    }\n  }\n}"): typeof import('./graphql.js').UiCreateDownloadUrlDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UiDeleteReport($id: ID!) {\n  deleteReport(id: $id) {\n    __typename\n    ... on MutationDeleteReportSuccess {\n      data {\n        reportId\n        status\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n  }\n}"): typeof import('./graphql.js').UiDeleteReportDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UiEraseReport($id: ID!, $reason: String!) {\n  eraseReport(id: $id, reason: $reason) {\n    __typename\n    ... on MutationEraseReportSuccess {\n      data {\n        reportId\n        status\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n  }\n}"): typeof import('./graphql.js').UiEraseReportDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query UiEvents($first: Int!, $after: String) {\n  events(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        globalPosition\n        type\n        streamId\n        streamVersion\n        recordedAt\n        hash\n        prevHash\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"): typeof import('./graphql.js').UiEventsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query UiLogDigest {\n  logDigest {\n    seq\n    sealHash\n    merkleRoot\n    checkpoint\n    position\n    eventCount\n    sealedAt\n  }\n}"): typeof import('./graphql.js').UiLogDigestDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query UiMe {\n  me {\n    id\n    role\n  }\n}"): typeof import('./graphql.js').UiMeDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription UiReportProgress($id: ID!) {\n  reportProgress(id: $id) {\n    reportId\n    fraction\n  }\n}"): typeof import('./graphql.js').UiReportProgressDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription UiReportStatus($id: ID!) {\n  reportStatus(id: $id) {\n    ...ReportView\n  }\n}"): typeof import('./graphql.js').UiReportStatusDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query UiReports($first: Int!, $after: String) {\n  reports(first: $first, after: $after) {\n    edges {\n      cursor\n      node {\n        reportId\n        title\n        template\n        status\n        requestedAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n  }\n}"): typeof import('./graphql.js').UiReportsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UiRequestReport($input: RequestReportInput!) {\n  requestReport(input: $input) {\n    __typename\n    ... on MutationRequestReportSuccess {\n      data {\n        reportId\n        title\n        template\n        status\n        requestedAt\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on InvalidParamsError {\n      issues {\n        path\n        message\n      }\n    }\n    ... on RateLimitedError {\n      retryAfterSeconds\n    }\n  }\n}"): typeof import('./graphql.js').UiRequestReportDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UiRetryReport($id: ID!) {\n  retryReport(id: $id) {\n    __typename\n    ... on MutationRetryReportSuccess {\n      data {\n        reportId\n        status\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on NotRetryableError {\n      status\n    }\n  }\n}"): typeof import('./graphql.js').UiRetryReportDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query UiTemplates {\n  templates {\n    name\n    description\n    paramsSchema\n  }\n}"): typeof import('./graphql.js').UiTemplatesDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription UiViewerReports {\n  viewerReports {\n    reportId\n    progress\n    report {\n      reportId\n      title\n      template\n      status\n      requestedAt\n    }\n  }\n}"): typeof import('./graphql.js').UiViewerReportsDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
