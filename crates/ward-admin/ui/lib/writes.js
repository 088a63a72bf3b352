// Where the API's writes go (the status's `writes`). When they are a layer over a config
// file Git owns, what the file defines cannot be changed here: the pages mark it and
// offer no change to it (the API would answer 409).
import { signal } from '../vendor/signals.js';
import { html } from './html.js';

/** The status's `writes`, once known; the app sets it with the status. */
export const writes = signal(null);

/** Whether the config file defines entry `key` of `kind` (lists, policies, clients,
 * records as `name type`, upstreams, forward zones) and the API may not change it. */
export function fromFile(kind, key) {
  const w = writes.value;
  return Boolean(w && w.mode === 'data_dir' && w.file && (w.file[kind] || []).includes(key));
}

/** The mark of an entry the config file defines. */
export const fileTag = () =>
  html` <span class="tag file" title="Defined in the config file (Git): change it there">config file</span>`;
