// Links page: only the shared header needs script.
import { initNav } from './nav.js';

initNav();
