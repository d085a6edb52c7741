/**
 * The words quire itself prints on a report (not the requester's text), per language. A report's
 * `locale` picks them by its language subtag (de-AT → de, zh-Hant-TW → zh); any other language
 * falls back to English. To add a language: add an entry with every key (the type makes the
 * compiler check), and a line to README's "Locales".
 */
export interface Labels {
  total: string;
  /** "Generated <date> · report <id>" */
  generated(date: string, reportId: string): string;
  page(page: number, pages: number): string;
  historyOf(reportId: string): string;
  noEvents: string;
  historyColumns: [version: string, event: string, recordedAt: string, actor: string, region: string, hash: string];
}

const LABELS: Record<string, Labels> = {
  en: {
    total: 'Total',
    generated: (d, id) => `Generated ${d} · report ${id}`,
    page: (n, m) => `Page ${n} of ${m}`,
    historyOf: (id) => `Event history of report ${id}`,
    noEvents: 'No events recorded.',
    historyColumns: ['Version', 'Event', 'Recorded at', 'Actor', 'Region', 'Hash'],
  },
  de: {
    total: 'Summe',
    generated: (d, id) => `Erstellt ${d} · Bericht ${id}`,
    page: (n, m) => `Seite ${n} von ${m}`,
    historyOf: (id) => `Ereignisverlauf des Berichts ${id}`,
    noEvents: 'Keine Ereignisse aufgezeichnet.',
    historyColumns: ['Version', 'Ereignis', 'Aufgezeichnet', 'Akteur', 'Region', 'Hash'],
  },
  fr: {
    total: 'Total',
    generated: (d, id) => `Généré le ${d} · rapport ${id}`,
    page: (n, m) => `Page ${n} sur ${m}`,
    historyOf: (id) => `Historique des événements du rapport ${id}`,
    noEvents: 'Aucun événement enregistré.',
    historyColumns: ['Version', 'Événement', 'Enregistré le', 'Acteur', 'Région', 'Empreinte'],
  },
  es: {
    total: 'Total',
    generated: (d, id) => `Generado el ${d} · informe ${id}`,
    page: (n, m) => `Página ${n} de ${m}`,
    historyOf: (id) => `Historial de eventos del informe ${id}`,
    noEvents: 'No hay eventos registrados.',
    historyColumns: ['Versión', 'Evento', 'Registrado', 'Actor', 'Región', 'Hash'],
  },
  ja: {
    total: '合計',
    generated: (d, id) => `作成日時 ${d} · レポート ${id}`,
    page: (n, m) => `${n} / ${m} ページ`,
    historyOf: (id) => `レポート ${id} のイベント履歴`,
    noEvents: '記録されたイベントはありません。',
    historyColumns: ['版', 'イベント', '記録日時', '実行者', 'リージョン', 'ハッシュ'],
  },
  zh: {
    total: '合计',
    generated: (d, id) => `生成于 ${d} · 报告 ${id}`,
    page: (n, m) => `第 ${n} 页，共 ${m} 页`,
    historyOf: (id) => `报告 ${id} 的事件历史`,
    noEvents: '没有记录的事件。',
    historyColumns: ['版本', '事件', '记录时间', '操作者', '区域', '哈希'],
  },
};

/** The languages with labels of their own. */
export const LABEL_LANGUAGES = Object.keys(LABELS);

/** The labels for a BCP 47 locale: its language's, else English. */
export function labelsFor(locale: string): Labels {
  const language = locale.split('-')[0]!.toLowerCase();
  return LABELS[language] ?? LABELS.en!;
}
