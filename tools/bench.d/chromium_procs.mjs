/* chromium_procs.mjs: Chromium's processes under its browser process, read
   from /proc, with their peak resident memory (VmHWM): what the page
   benchmarks (peers/chromium_bench.mjs, page_scale.mjs) report as a page's
   memory. A page and its workers live in one renderer process. */
import fs from "node:fs";

// pid -> {renderer: whether it is a renderer, hwmKb: its peak resident memory
// in kB}, for rootPid and every process under it.
export function chromiumProcesses(rootPid) {
  const procs = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      procs.push({ pid: Number(pid), ppid });
    } catch {
      // gone meanwhile
    }
  }
  const tree = new Set([rootPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (!tree.has(p.pid) && tree.has(p.ppid)) tree.add(p.pid), (grew = true);
  }
  const out = new Map();
  for (const pid of tree) {
    try {
      const hwm = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+)/m);
      const renderer = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--type=renderer");
      if (hwm) out.set(pid, { renderer, hwmKb: Number(hwm[1]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
