// The GraphQL operations the progress page sends. test/ui/operations.test.ts validates every one of
// them against schema/schema.graphql, so a schema change that breaks the page fails CI.

const REPORT_FIELDS = /* GraphQL */ `
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
    pages
    bytes
    sha256
    version
    locations {
      kind
      region
      bucket
      bytes
      storedAt
    }
    downloadable {
      available
      reason
      source
      region
    }
    history {
      streamVersion
      type
      recordedAt
      hash
      prevHash
      metadata {
        region
        actor
      }
    }
  }
`;

export const ME = /* GraphQL */ `
  query UiMe {
    me {
      id
      role
    }
  }
`;

export const REQUEST_REPORT = /* GraphQL */ `
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
`;

export const REPORT_STATUS = /* GraphQL */ `
  subscription UiReportStatus($id: ID!) {
    reportStatus(id: $id) {
      ...ReportView
    }
  }
  ${REPORT_FIELDS}
`;

export const REPORT_PROGRESS = /* GraphQL */ `
  subscription UiReportProgress($id: ID!) {
    reportProgress(id: $id) {
      reportId
      fraction
    }
  }
`;

export const CREATE_DOWNLOAD_URL = /* GraphQL */ `
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
      ... on FailedError {
        reason
      }
    }
  }
`;

export const RETRY_REPORT = /* GraphQL */ `
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
`;

export const REPORTS = /* GraphQL */ `
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
`;
