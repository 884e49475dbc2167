"""CPU per cached response written to sqlite: one autocommit INSERT per row (evalkit today) vs batched
transactions, rowid vs WITHOUT ROWID, TEXT vs BLOB keys; random sha256 keys, as evalkit's cache has."""
import sqlite3, time, tempfile, hashlib, os
from pathlib import Path
resp = '{"text":"negative","usage":{"prompt_tokens":8,"completion_tokens":1},"finish_reason":"stop"}'
N = 20000
keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(N)]
def run(name, ddl, batch, blob=False):
    d = Path(tempfile.mkdtemp()); db = sqlite3.connect(str(d / "c.sqlite"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL"); db.execute(ddl)
    sql = "INSERT OR REPLACE INTO responses (key, response, latency_s) VALUES (?, ?, ?)"
    t = time.process_time(); w = time.perf_counter()
    buf = []
    for k in keys:
        kk = bytes.fromhex(k) if blob else k
        if batch:
            buf.append((kk, resp, 0.01))
            if len(buf) >= batch:
                db.execute("BEGIN"); db.executemany(sql, buf); db.execute("COMMIT"); buf.clear()
        else:
            db.execute(sql, (kk, resp, 0.01))
    if buf:
        db.execute("BEGIN"); db.executemany(sql, buf); db.execute("COMMIT")
    print(f"{1e6*(time.process_time()-t)/N:7.1f} µs CPU {1e6*(time.perf_counter()-w)/N:7.1f} µs wall per row  {name}")
base = "CREATE TABLE responses (key TEXT PRIMARY KEY, response TEXT NOT NULL, latency_s REAL, created REAL DEFAULT (unixepoch('subsec')))"
norowid = base + " WITHOUT ROWID"
blob = "CREATE TABLE responses (key BLOB PRIMARY KEY, response TEXT NOT NULL, latency_s REAL, created REAL DEFAULT (unixepoch('subsec'))) WITHOUT ROWID"
run("today: TEXT PRIMARY KEY, rowid table, one autocommit INSERT per row", base, 0)
run("same schema, 64 rows per transaction", base, 64)
run("WITHOUT ROWID, one INSERT per row", norowid, 0)
run("WITHOUT ROWID, 64 rows per transaction", norowid, 64)
run("BLOB(32) key WITHOUT ROWID, 64 rows per transaction", blob, 64, blob=True)
run("same schema, 256 rows per transaction", base, 256)
