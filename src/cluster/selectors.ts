/**
 * Label selectors (equality- and set-based, as `kubectl -l` writes them) and field selectors (`a=b,c!=d` on any
 * dotted field path; a missing field reads as "", so `spec.nodeName=` finds unscheduled pods). Pure.
 */
import { badRequest } from './status.js';

type LabelRequirement = { op: 'exists' | 'notexists'; key: string } | { op: 'in' | 'notin'; key: string; values: readonly string[] } | { op: 'gt' | 'lt'; key: string; value: number };

export type LabelSelector = readonly LabelRequirement[];
export type FieldSelector = readonly { path: readonly string[]; value: string; negate: boolean }[];

/** Splits on commas outside parentheses: `a in (x,y),b` has two terms. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += ch;
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function checkKey(key: string, selector: string): string {
  if (!LABEL_KEY.test(key) || key.length > 317) throw badRequest(`unable to parse requirement: invalid label key "${key}" in labelSelector "${selector}"`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!LABEL_VALUE.test(value) || value.length > 63) {
    throw badRequest(`unable to parse requirement: invalid label value "${value}" in labelSelector "${selector}"`);
  }
  return value;
}

export function parseLabelSelector(selector: string | undefined): LabelSelector {
  if (!selector) return [];
  return splitTerms(selector).map((term): LabelRequirement => {
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
    if (set) {
      const values = set[3]!.split(',').map((v) => checkValue(v.trim(), selector));
      return { op: set[2] as 'in' | 'notin', key: checkKey(set[1]!, selector), values };
    }
    const cmp = /^([^!=<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/.exec(term);
    if (cmp) {
      const key = checkKey(cmp[1]!, selector);
      const raw = cmp[3]!.trim();
      if (cmp[2] === '>' || cmp[2] === '<') {
        const value = Number(raw);
        if (!/^-?\d+$/.test(raw)) throw badRequest(`unable to parse requirement: "${raw}" is not an integer in labelSelector "${selector}"`);
        return { op: cmp[2] === '>' ? 'gt' : 'lt', key, value };
      }
      return { op: cmp[2] === '!=' ? 'notin' : 'in', key, values: [checkValue(raw, selector)] };
    }
    if (term.startsWith('!')) return { op: 'notexists', key: checkKey(term.slice(1).trim(), selector) };
    return { op: 'exists', key: checkKey(term, selector) };
  });
}

export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  return selector.every((req) => {
    const value = labels?.[req.key];
    switch (req.op) {
      case 'exists':
        return value !== undefined;
      case 'notexists':
        return value === undefined;
      case 'in':
        return value !== undefined && req.values.includes(value);
      case 'notin':
        return value === undefined || !req.values.includes(value);
      case 'gt':
        return value !== undefined && /^-?\d+$/.test(value) && Number(value) > req.value;
      case 'lt':
        return value !== undefined && /^-?\d+$/.test(value) && Number(value) < req.value;
    }
    return false;
  });
}

export function parseFieldSelector(selector: string | undefined): FieldSelector {
  if (!selector) return [];
  return splitTerms(selector).map((term) => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid field selector: "${term}" is not of the form field=value or field!=value`);
    return { path: m[1]!.split('.'), value: m[3]!.trim(), negate: m[2] === '!=' };
  });
}

export function matchesFields(selector: FieldSelector, object: unknown): boolean {
  return selector.every((req) => {
    let node: unknown = object;
    for (const part of req.path) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
    const actual = node === undefined || node === null ? '' : String(node);
    return (actual === req.value) !== req.negate;
  });
}
