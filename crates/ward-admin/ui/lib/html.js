// htm bound to Preact: components are written as tagged templates, no build step.
import { h } from '../vendor/preact.js';
import htm from '../vendor/htm.js';

export const html = htm.bind(h);
