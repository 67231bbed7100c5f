// The page's core tests (core.mjs) in Debian's Chromium.
import { coreTests } from "./core.mjs";

coreTests("chromium");
