#!/usr/bin/python3
"""Checks what the README's main job (bench/scripts/main_job.sh) printed.

    check_main_job.py --run MAIN_JOB_SH --build BUILD_DIR   run it in quick mode into a
                                                           temporary folder, then check
    check_main_job.py --log LOG [--rc N]                   check the output of a run

It passes when the job exited 0 and said OK; printed gw-perf rows, all within
their --check bound, for shm and tcp, and for each rate-limited regime unless
the job said it was skipped for lack of permission (no root, or ip netns / tc
refused: "Operation not permitted", "Permission denied"); printed as many rows
as each run's JSON file holds; and drew the PNG (non-empty, PNG signature).
A regime skipped for any other reason, or a run that failed, fails the check.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ALWAYS = ("shm", "tcp")
RATE_LIMITED = ("1gbit", "10gbit")
PERMISSION = re.compile(r"^not root|Operation not permitted|Permission denied")
RUN_HEADER = re.compile(r"^==> (?P<name>(?P<regime>[a-z0-9]+)-np(?P<np>\d+)): ")
SKIP_HEADER = re.compile(r"^==> (?P<regime>[a-z0-9]+): skipped: (?P<reason>.*)$")
# A table row of gw-perf: size, count, type, compressor, ... (see its header line).
ROW = re.compile(r"^\s+\d+\s+\d+\s+float\s+\S")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def parse(log):
    """{run name: {"regime", "rows", "check_ok"}}, {regime: skip reason}, plot path."""
    runs, skipped, plot, current = {}, {}, None, None
    for line in log.splitlines():
        m = RUN_HEADER.match(line)
        if m:
            current = runs.setdefault(m.group("name"), {"regime": m.group("regime"), "rows": [], "check_ok": False})
            continue
        m = SKIP_HEADER.match(line)
        if m:
            skipped[m.group("regime")] = m.group("reason")
            current = None
            continue
        if line.startswith("==> ") or line.startswith("main_job.sh: "):
            current = None
            if line.startswith("main_job.sh: plot: "):
                plot = line[len("main_job.sh: plot: "):].strip()
            continue
        if current is not None:
            if ROW.match(line):
                current["rows"].append(line)
            elif line.startswith("# check: OK"):
                current["check_ok"] = True
    return runs, skipped, plot


def json_rows(run_dir, name):
    path = os.path.join(run_dir, name + ".json")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        return None, "%s: %s" % (path, e)
    return len(data) if isinstance(data, list) else None, path


def check(log, rc):
    """The list of problems (empty: the job did what it should)."""
    problems = []
    lines = log.rstrip().splitlines()
    if rc != 0:
        problems.append("main_job.sh exited %d" % rc)
    if not lines or lines[-1].strip() != "main_job.sh: OK":
        problems.append("main_job.sh did not end with 'main_job.sh: OK'")
    runs, skipped, plot = parse(log)

    regimes_run = {r["regime"] for r in runs.values()}
    for regime in ALWAYS + RATE_LIMITED:
        if regime in regimes_run:
            continue
        if regime in skipped:
            if regime in RATE_LIMITED and PERMISSION.search(skipped[regime]):
                print("check_main_job: %s skipped for lack of permission: %s" % (regime, skipped[regime]))
            else:
                problems.append("%s was skipped, and not for lack of permission: %s" % (regime, skipped[regime]))
        elif regime in ALWAYS:
            problems.append("no %s run in the output" % regime)

    for name, r in sorted(runs.items()):
        if not r["rows"]:
            problems.append("%s printed no gw-perf rows" % name)
            continue
        failed = [row for row in r["rows"] if "FAILED" in row]
        if failed:
            problems.append("%s: %d row(s) FAILED, e.g.: %s" % (name, len(failed), failed[0].strip()))
        if not r["check_ok"]:
            problems.append("%s did not print '# check: OK'" % name)
        if plot:
            n, where = json_rows(os.path.dirname(plot), name)
            if n is None:
                problems.append("%s: no JSON rows (%s)" % (name, where))
            elif n != len(r["rows"]):
                problems.append("%s: %d rows printed but %d in %s" % (name, len(r["rows"]), n, where))
        print("check_main_job: %s: %d rows" % (name, len(r["rows"])))

    if not plot:
        problems.append("main_job.sh printed no 'main_job.sh: plot: PATH' line")
    else:
        try:
            with open(plot, "rb") as f:
                head = f.read(len(PNG_SIGNATURE))
            size = os.path.getsize(plot)
        except OSError as e:
            problems.append("the plot cannot be read: %s" % e)
        else:
            if size <= len(PNG_SIGNATURE) or head != PNG_SIGNATURE:
                problems.append("%s is not a PNG (%d bytes)" % (plot, size))
            else:
                print("check_main_job: plot: %s (%d bytes)" % (plot, size))
    return problems


def run_quick(script, build):
    """Runs the main job in quick mode into a fresh folder: (log, rc, folder)."""
    out = tempfile.mkdtemp(prefix="gw-main-job-")
    t0 = time.time()
    env = dict(os.environ, GW_MAIN_QUICK="1")
    p = subprocess.run(["bash", script, build, out], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = p.stdout.decode("utf-8", "replace")
    sys.stdout.write(log)
    print("check_main_job: main_job.sh --quick took %.0f s" % (time.time() - t0))
    return log, p.returncode, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", metavar="MAIN_JOB_SH", help="run this main_job.sh in quick mode")
    ap.add_argument("--build", help="build folder for --run (holding bin/gw-perf)")
    ap.add_argument("--log", help="check this saved output instead")
    ap.add_argument("--rc", type=int, default=0, help="exit status of the run in --log")
    args = ap.parse_args()
    if bool(args.run) == bool(args.log) or (args.run and not args.build):
        ap.error("give --run MAIN_JOB_SH --build DIR, or --log LOG")

    out = None
    if args.run:
        log, rc, out = run_quick(args.run, args.build)
    else:
        with open(args.log, errors="replace") as f:
            log, rc = f.read(), args.rc
    problems = check(log, rc)
    for p in problems:
        print("check_main_job: FAILED: %s" % p)
    if out and not problems:
        shutil.rmtree(out, ignore_errors=True)  # kept when something failed, to look at
    elif out:
        print("check_main_job: output kept in %s" % out)
    print("check_main_job: %s" % ("OK" if not problems else "FAILED"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
