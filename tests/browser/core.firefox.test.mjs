// The page's core tests (core.mjs) in Debian's Firefox ESR, with no storage
// prompt answered: a lab's Firefox, where nobody has clicked "Allow" yet.
import { coreTests } from "./core.mjs";

coreTests("firefox");
