#!/usr/bin/env -S node --max-semi-space-size=4 --single-threaded-gc
import { main } from '../dist/index.js';
main(process.argv);
