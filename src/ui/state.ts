// The page's state, in one place: who is signed in, the socket, the report being followed, the
// live subscriptions and the lists' cursors. Every panel reads and writes it here.
import type { Client } from 'graphql-ws';
import type { ReportViewFragment, TypedDocumentString, UiMeQuery, UiTemplatesQuery } from './gql/graphql';
import type { ParamsForm } from './schema-form';
import { gql } from './transport';

export type Viewer = UiMeQuery['me'];
export type Report = ReportViewFragment;
export type Template = UiTemplatesQuery['templates'][number];

export const state: {
  token: string | null;
  viewer: Viewer | null;
  ws: Client | null;
  reportId: string | null;
  report: Report | null;
  stopStatus: (() => void) | null;
  stopProgress: (() => void) | null;
  /** The list's live feed (viewerReports): one subscription for every row. */
  stopList: (() => void) | null;
  cursor: string | null;
  templates: Template[];
  form: ParamsForm | null;
  eventsCursor: string | null;
} = { token: null, viewer: null, ws: null, reportId: null, report: null, stopStatus: null, stopProgress: null, stopList: null, cursor: null, templates: [], form: null, eventsCursor: null };

/** One GraphQL operation over HTTP with the page's token. */
export const call = <R, V>(document: TypedDocumentString<R, V>, variables: V) => gql(state.token, document, variables);

/** Auditors and admins: they see the hash chain and the global log. */
export const isStaff = () => !!state.viewer && state.viewer.role !== 'USER';
