# Issue #17's reproduction on the project's own data: the 20,000-event generated set delivered
# to `watch` region by region (every file of one account/region, then the next: the worst
# arrival order, far beyond the allowed lateness), against one `hunt` over the same files.
#   BIN=target/debug/trailhound OUT=/tmp/x python3 bench/watch-arrival.py
import json, os, shutil, signal, sqlite3, subprocess, sys, time, re, collections
B = os.environ.get("BIN", "target/debug/trailhound")
R = os.environ.get("OUT", "/tmp/trailhound-watch-arrival")
shutil.rmtree(R, ignore_errors=True)
os.makedirs(R)
subprocess.run([B, "generate", f"{R}/src", "--events", "20000"], check=True, capture_output=True)
t = time.time()
subprocess.run([B, "hunt", "--no-progress", "--format", "jsonl", "--store", f"{R}/hunt.db", f"{R}/src"], check=True, capture_output=True)
print(f"hunt: {time.time()-t:.1f}s")
files = []
for root, _, names in os.walk(f"{R}/src/AWSLogs"):
    for n in names:
        m = re.match(r"(\d+)_CloudTrail_([a-z0-9-]+)_(\d{8}T\d{4}Z)_", n)
        if m:
            files.append(((m.group(1), m.group(2)), m.group(3), os.path.join(root, n)))
streams = collections.OrderedDict()
for s, d, p in sorted(files, key=lambda f: (f[0], f[1], f[2])):
    streams.setdefault(s, []).append(p)
print(f"{len(files)} files in {len(streams)} streams:", {f"{a}/{r}": len(v) for (a, r), v in streams.items()})
os.makedirs(f"{R}/watched")
log = open(f"{R}/watch.log", "w")
w = subprocess.Popen([B, "watch", f"{R}/watched", "--store", f"{R}/watch.db", "--interval", "0.2", "--no-sigma"] if "--no-sigma" in sys.argv else [B, "watch", f"{R}/watched", "--store", f"{R}/watch.db", "--interval", "0.2"], stdout=subprocess.DEVNULL, stderr=log)
def done():
    try:
        c = sqlite3.connect(f"{R}/watch.db")
        n = c.execute("select count(*) from watched_files").fetchone()[0]
        c.close()
        return n
    except Exception:
        return 0
t = time.time()
n = 0
for s, paths in streams.items():
    for p in paths:
        dest = p.replace(f"{R}/src", f"{R}/watched")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = os.path.join(os.path.dirname(dest), "." + os.path.basename(dest) + ".part")
        shutil.copy(p, tmp)
        os.rename(tmp, dest)
    n += len(paths)
    while done() < n:
        time.sleep(0.2)
w.send_signal(signal.SIGTERM)
w.wait()
print(f"watch: {time.time()-t:.1f}s")
def alerts(db, open_only=False):
    c = sqlite3.connect(db)
    q = "select id, body from alerts" + (" where status != 'closed'" if open_only else "")
    return {i: json.loads(b) for i, b in c.execute(q)}
h = alerts(f"{R}/hunt.db")
wa = alerts(f"{R}/watch.db")
wo = alerts(f"{R}/watch.db", True)
text = open(f"{R}/watch.log").read()
print("hunt alerts:", len(h), "watch alerts:", len(wa), "open:", len(wo))
print("open == hunt (ids):", set(wo) == set(h), " evidence equal:", all(wo[i] == h[i] for i in h if i in wo))
print("late-data re-evaluations:", text.count("late data"), " superseded:", len(wa) - len(wo))
missing = set(h) - set(wo); extra = set(wo) - set(h)
print("missing:", len(missing), "extra:", len(extra))
