"""DB5xx: DashFlow's database and object-store checkpointers (SQLite, Postgres, Redis, S3,
DynamoDB), read through a URL or (SQLite) found under a PATH (spec 4.6-4.10, section 8
items 15-19).

The checks that compare checkpoints with each other (parent chains, collisions, counter
order, several writers) keep their CK14x/CK150 codes on every store. Severity follows one
rule on every backend: an error when DashFlow would resume the wrong checkpoint or none,
fail to read what it wrote, or when committed data was overwritten; a warning when the store
is untidy or incomplete but resumes right.
"""

from dashfix.findings import Rule, Severity

_F = "backend"


def _rule(code: str, name: str, severity: Severity, summary: str, explanation: str, bug: str,
          fix: str, *, baselinable: bool = True, unreadable: bool = False) -> Rule:
    return Rule(code, name, severity, _F, summary, explanation, bug, fix, baselinable, unreadable)


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_REPORT_ONLY = ("This store is its own index, so there is nothing to rebuild: ")

# -- every backend --------------------------------------------------------------------------
SOURCE_UNREACHABLE = _rule(
    "DB500", "source-unreachable", E,
    "A checkpoint store named by URL (or a database found under a PATH) could not be read.",
    "The server could not be reached, refused the credentials, or the database could not be "
    "opened. Nothing in it was checked, so the run cannot be called clean: the exit code is 3.",
    "-", "Check the URL, that the server runs and that the user may read the table; then run "
    "dashfix verify again.", baselinable=False, unreadable=True,
)
LATEST_MISSING = _rule(
    "DB501", "latest-missing", E,
    "The checkpoint a thread's \"latest\" pointer names does not exist.",
    "DashFlow's get_latest reads the pointer (a Redis ZSET's top member, an S3 index's first "
    "entry) and then loads that checkpoint; when it is gone, get_latest returns None even "
    "though older checkpoints exist, and the workflow starts over from scratch (#20).",
    "#20", "Run `dashfix rebuild-index URL` (S3, Redis): it rebuilds the thread's index "
    "from its checkpoints after a backup, so the latest is its newest existing checkpoint; "
    "`--dry-run` shows the diff first.",
)
LATEST_NOT_NEWEST = _rule(
    "DB502", "latest-not-newest", E,
    "The checkpoint DashFlow picks as a thread's latest is not its newest.",
    "The backend's own ordering (a ZSET score, a sort key) disagrees with the checkpoints' "
    "timestamps, so resume continues from an older state (#20).",
    "#20", "S3 and Redis: run `dashfix rebuild-index URL` (it puts the newest checkpoint "
    "first, after a backup; `--dry-run` shows the diff). DynamoDB is its own index "
    "(get_latest takes the greatest sort key): there is nothing to rebuild; resume the "
    "thread from the newest checkpoint by id, or save a new one from it.",
)
LATEST_AMBIGUOUS = _rule(
    "DB503", "latest-ambiguous", E,
    "Several checkpoints of one thread share the newest timestamp at the unit DashFlow "
    "orders by, with no tie-break.",
    "SQLite's get_latest is `ORDER BY timestamp DESC LIMIT 1` over milliseconds with no "
    "tie-break: when two checkpoints of a thread were saved in the same millisecond, which "
    "one DashFlow resumes from is up to the query plan (#20 analogue).",
    "#20", _REPORT_ONLY + "check which of the tied checkpoints the workflow should resume "
    "from; saving one more checkpoint on the thread makes its latest unambiguous.",
)
SAME_UNIT_ORDER = _rule(
    "DB504", "same-unit-checkpoints", W,
    "Several older checkpoints of one thread share a timestamp at the unit DashFlow orders by.",
    "DashFlow lists a thread's checkpoints by that timestamp with no tie-break, so their "
    "order in `list` (and which one retention keeps) is arbitrary. The latest is not "
    "affected (that would be DB503).",
    "#20", _REPORT_ONLY + "nothing to do unless the workflow relies on list order.",
)
ID_THREAD_MOVED = _rule(
    "DB505", "id-thread-mismatch", E,
    "A checkpoint's thread_id is not the thread its id was made for.",
    "DashFlow ids start with `{thread_id}_`. A row whose thread_id disagrees was overwritten "
    "by a save of another thread under the same id: an upsert (Postgres `ON CONFLICT DO "
    "UPDATE`, SQLite `INSERT OR REPLACE`) replaces every column, thread_id included, so the "
    "first thread's checkpoint is gone (#6).",
    "#6", _REPORT_ONLY + "the overwritten checkpoint cannot be recovered from this store; "
    "upgrade DashFlow and run each thread_id in one process at a time.",
)
ROW_UNDECODABLE = _rule(
    "DB506", "row-undecodable", E,
    "A checkpoint row holds a value DashFlow cannot read back.",
    "A column has the wrong type or an impossible value (for example a timestamp that is not "
    "an integer), so DashFlow's load or list of this thread fails.",
    "#17", _REPORT_ONLY + "delete or fix the row by hand after taking a copy of the store.",
    baselinable=False,
)
STATE_UNDECOMPRESSABLE = _rule(
    "DB507", "state-undecompressable", E,
    "A state does not decode in its store's compression: a zstd state that does not "
    "decompress (or past 100 MiB), or a state in another compression than the store's.",
    "dashflow-compression stores no tag and DashFlow records none per state: every state is "
    "read with the one compression the checkpointer is configured with (spec 4.11). A state "
    "starting with the zstd magic is a zstd stream; one that is damaged, cut short or "
    "followed by other bytes fails DashFlow's load of that checkpoint (past dashflow-"
    "compression's 100 MiB cap dashfix stops reading it; DashFlow's backends apply no cap). "
    "lz4 and snappy carry no magic: a state is one of them when it decodes exactly (its "
    "declared size, no byte left over). The store's compression is the one most of its "
    "states read as; a state that does not read as it (a damaged lz4 or snappy block, or one "
    "written before the compression setting changed) fails DashFlow's load.",
    "#17", _REPORT_ONLY + "restore the state from a backup, or set the checkpointer's "
    "compression to the one the state was written with to read it out; resume from an older "
    "checkpoint.",
    baselinable=False,
)
# -- SQLite (spec 4.6, item 15) -------------------------------------------------------------
SQLITE_INTEGRITY = _rule(
    "DB520", "sqlite-integrity-check-failed", E,
    "SQLite's `PRAGMA integrity_check` reports damage.",
    "The database file (or its WAL) is corrupt: pages, indexes or records do not agree. "
    "DashFlow's queries may fail or silently miss rows.",
    "#18", "Copy the database with its -wal and -shm files, then recover it with the sqlite3 "
    "shell's `.recover` into a new file.", baselinable=False,
)
SQLITE_ORPHAN_METADATA = _rule(
    "DB521", "sqlite-orphan-metadata", W,
    "checkpoint_metadata rows name a checkpoint that no longer exists.",
    "DashFlow never enables `PRAGMA foreign_keys`, so the `ON DELETE CASCADE` of "
    "checkpoint_metadata never fires: delete and delete_thread leave the metadata rows "
    "behind. They waste space and merge into a later checkpoint saved under the same id.",
    "#6", _REPORT_ONLY + "delete them with `DELETE FROM checkpoint_metadata WHERE "
    "checkpoint_id NOT IN (SELECT id FROM checkpoints)` while no DashFlow process writes.",
)
SQLITE_REPLACED = _rule(
    "DB522", "sqlite-row-replaced", E,
    "A checkpoint row was written long after its own timestamp.",
    "`created_at` is reset by every `INSERT OR REPLACE`; DashFlow saves a checkpoint right "
    "after making it, so a `created_at` far after `timestamp` means a later save replaced "
    "the row under the same id: an id collision overwrote it (#6), and metadata of the old "
    "and new checkpoint merged.",
    "#6", _REPORT_ONLY + "the replaced checkpoint cannot be recovered from this database; "
    "upgrade DashFlow and run each thread_id in one process at a time.",
)
SQLITE_SCHEMA = _rule(
    "DB523", "sqlite-schema-mismatch", E,
    "The SQLite database lacks part of DashFlow's schema or has an unknown schema version.",
    "SqliteCheckpointer creates schema_version (one row: 1), checkpoints, checkpoint_metadata "
    "and two indexes. A missing table or column makes its queries fail; a version other "
    "than 1 was written by another program or version.",
    "-", "Point dashfix at the database DashFlow writes, or let DashFlow create its schema.",
)
SQLITE_MISSING_INDEX = _rule(
    "DB524", "sqlite-missing-index", W,
    "An index that SqliteCheckpointer creates is missing.",
    "get_latest and list filter by thread_id ordered by timestamp, history by parent_id; "
    "without idx_checkpoints_thread_id / idx_checkpoints_parent_id every call scans the table.",
    "-", "Create it as DashFlow's migration does: `CREATE INDEX IF NOT EXISTS "
    "idx_checkpoints_thread_id ON checkpoints(thread_id, timestamp DESC)` and `CREATE INDEX "
    "IF NOT EXISTS idx_checkpoints_parent_id ON checkpoints(parent_id)`.",
)

# -- Postgres (spec 4.7, item 16) ----------------------------------------------------------
POSTGRES_TABLE = _rule(
    "DB540", "postgres-table-mismatch", E,
    "The checkpoint table does not exist, or lacks a column PostgresCheckpointer reads.",
    "PostgresCheckpointer creates `checkpoint_id, thread_id, state, node, timestamp, "
    "parent_id, metadata`. A missing table (a wrong `?table=` or search_path) holds no "
    "checkpoint to check; a missing column makes every query fail.",
    "-", "Point the URL at the table DashFlow writes (`?table=NAME`, `options=-csearch_path="
    "SCHEMA`).",
)
POSTGRES_METADATA_NULL = _rule(
    "DB541", "postgres-metadata-null", E, "A checkpoint row's metadata is SQL NULL.",
    "DashFlow never writes NULL metadata, and reading one into serde_json::Value fails (most "
    "likely a panic), so load, get_latest and list of that thread fail.",
    "-", "Set it to '{}' by hand (`UPDATE ... SET metadata = '{}' WHERE metadata IS NULL`) "
    "after taking a backup, and find the writer that stored NULL.",
)
POSTGRES_METADATA_NOT_OBJECT = _rule(
    "DB542", "postgres-metadata-not-object", E,
    "A checkpoint row's metadata is not a JSON object of strings.",
    "DashFlow reads metadata as HashMap<String, String>: an array, a number or a non-string "
    "value fails the load of that checkpoint.",
    "-", "After taking a backup, rewrite the value as an object of strings (`UPDATE {table} "
    "SET metadata = '{}' WHERE checkpoint_id = '{id}'`, or the object it should hold); find "
    "the writer.",
)
POSTGRES_TIMESTAMP_CLAMPED = _rule(
    "DB543", "postgres-timestamp-clamped", E,
    "A checkpoint's timestamp is 0 or i64::MAX: a clamped value, not a time.",
    "DashFlow clamps times past i64::MAX nanoseconds to i64::MAX and times before the epoch "
    "to 0 (checkpointer_helpers.rs). A row at i64::MAX stays the thread's latest forever "
    "(`ORDER BY timestamp DESC`); one at 0 is never picked.",
    "#20", _REPORT_ONLY + "fix the clock of the writer; after a backup, delete the row "
    "(`DELETE FROM {table} WHERE checkpoint_id = '{id}'`) or set its timestamp to the time "
    "it was saved, in nanoseconds.",
)
POSTGRES_COMPOSITE_INDEX = _rule(
    "DB544", "postgres-composite-index-missing", INFO,
    "No index on (thread_id, timestamp) for get_latest and list.",
    "schema.sql defines idx_dashflow_checkpoints_thread_timestamp(thread_id, timestamp DESC), "
    "but the checkpointer's code never creates it: get_latest and list then sort a thread's "
    "rows on every call.",
    "-", "Create it: `CREATE INDEX ON TABLE (thread_id, \"timestamp\" DESC)`.",
)
POSTGRES_INDEX_MISSING = _rule(
    "DB545", "postgres-index-missing", W,
    "An index PostgresCheckpointer creates is missing.",
    "The checkpointer creates idx_{table}_thread_id and idx_{table}_timestamp; without them "
    "every get_latest/list scans the table.",
    "-", "Create it as the checkpointer does: `CREATE INDEX IF NOT EXISTS "
    "idx_{table}_thread_id ON {table} (thread_id)` and `CREATE INDEX IF NOT EXISTS "
    "idx_{table}_timestamp ON {table} (timestamp)`.",
)

# -- Redis (spec 4.8, item 17) -------------------------------------------------------------
REDIS_MEMBER_WITHOUT_HASH = _rule(
    "DB560", "redis-member-without-hash", E,
    "A thread's ZSET names a checkpoint whose hash is gone (not its latest).",
    "The ZSET is the thread's index: a member without its hash is a committed checkpoint "
    "that is gone, as an index entry naming a deleted file is (CK131). DashFlow's list "
    "skips it silently, and a resume from it (or a history through it) finds nothing. "
    "(When it is the latest, DB501 reports it.)",
    "#20", "Run `dashfix rebuild-index URL`: it takes the stale member out after saving "
    "the ZSET to a local backup file (never a hash).",
)
REDIS_HASH_WITHOUT_MEMBER = _rule(
    "DB561", "redis-hash-not-in-zset", W,
    "A checkpoint hash is in no thread's ZSET.",
    "get_latest and list only see checkpoints through the ZSET, so this one is invisible to "
    "DashFlow: a save whose ZADD was lost, or a member removed by hand.",
    "#5", "Run `dashfix rebuild-index URL`: it re-adds the member (ZADD "
    "{prefix}:thread:{thread}:checkpoints {timestamp_ms} {id}) after a backup.",
)
REDIS_SCORE_MISMATCH = _rule(
    "DB562", "redis-score-mismatch", W,
    "A ZSET score is not the checkpoint's timestamp in milliseconds.",
    "DashFlow scores each member `timestamp_ns / 1_000_000`; another score reorders the "
    "thread's list and can change which checkpoint is latest (then DB502).",
    "#20", "Run `dashfix rebuild-index URL`: it sets the score to the timestamp in "
    "milliseconds after a backup.",
)
REDIS_THREAD_MISMATCH = _rule(
    "DB563", "redis-hash-thread-mismatch", E,
    "A thread's ZSET names a checkpoint whose hash belongs to another thread.",
    "A save of another thread under the same id overwrote the hash (#6): resuming this "
    "thread from that member loads the other thread's state.",
    "#6", "The overwritten checkpoint is lost; `dashfix rebuild-index URL` moves the member "
    "to the ZSET of the thread its hash now belongs to, after a backup.",
)
REDIS_THREAD_WITHOUT_ZSET = _rule(
    "DB564", "redis-thread-without-checkpoints", E,
    "A thread in the threads SET has no (or an empty) ZSET.",
    "DashFlow adds a thread to the SET in the same MULTI/EXEC as its first checkpoint, and "
    "delete_thread removes it from the SET with its keys: a thread left in the SET without "
    "a ZSET lost every checkpoint some other way, as an index entry whose thread has no "
    "files (CK135). get_latest returns None for it, so its workflow starts over, and "
    "list_threads leaves it out.",
    "-", "Run `dashfix rebuild-index URL`: it removes the thread from {prefix}:threads "
    "after a backup.",
)

# -- S3 (spec 4.9, item 18) ----------------------------------------------------------------
S3_INDEX_ENTRY_MISSING = _rule(
    "DB580", "s3-index-entry-without-object", E,
    "A thread's index.json lists a checkpoint whose object is gone (not its latest).",
    "A committed checkpoint is gone while the index still names it, as an index entry "
    "naming a deleted file is (CK131): S3Checkpointer's list returns the index verbatim, so "
    "the checkpoint is listed but its load returns None. (When it is the latest, DB501 "
    "reports it.)",
    "#20", "Run `dashfix rebuild-index URL`: it rebuilds the index from the objects, "
    "after copying the old one under PREFIX/dashfix-backups/.",
)
S3_OBJECT_NOT_INDEXED = _rule(
    "DB581", "s3-object-not-indexed", W,
    "A checkpoint object is in no thread's index.json.",
    "S3Checkpointer writes the object, then reads, changes and writes the index with no "
    "condition: two concurrent saves lose one index update (#5), and a crash between the "
    "two writes leaves the object out. DashFlow never lists or resumes it.",
    "#5", "Run `dashfix rebuild-index URL`: it rebuilds the index from the objects, "
    "after copying the old one under PREFIX/dashfix-backups/.",
)
S3_INDEX_ORDER = _rule(
    "DB582", "s3-index-not-newest-first", W,
    "A thread's index.json is not ordered newest first.",
    "DashFlow puts each save at the front and treats the first entry as the latest; a list "
    "out of time order came from concurrent or out-of-order saves, and its `list` order "
    "(and retention's keep_last_n) is wrong. (A first entry that is not the newest is DB502.)",
    "#5", "Run `dashfix rebuild-index URL`: it rebuilds the index from the objects, "
    "after copying the old one under PREFIX/dashfix-backups/.",
)
S3_INDEX_DUPLICATE = _rule(
    "DB583", "s3-index-duplicate-id", W,
    "A thread's index.json lists the same checkpoint id more than once.",
    "DashFlow removes an id before adding it again, so a duplicate means another writer "
    "changed the index concurrently.",
    "#5", "Run `dashfix rebuild-index URL`: it rebuilds the index from the objects, "
    "after copying the old one under PREFIX/dashfix-backups/.",
)
S3_OBJECT_MISMATCH = _rule(
    "DB584", "s3-object-id-mismatch", E,
    "A checkpoint object's embedded id or thread disagrees with its key or its index.",
    "DashFlow loads `checkpoints/{id}` and trusts what it finds: an object whose own id or "
    "thread differs was overwritten by another checkpoint's save (#6) or copied by hand, and "
    "resuming through this key loads the wrong checkpoint.",
    "#6", "Restore the object from a backup or versioning; `dashfix rebuild-index URL` "
    "then drops the index entries that name another checkpoint's object.",
)
S3_INDEX_UNDECODABLE = _rule(
    "DB585", "s3-index-undecodable", E,
    "A thread's index.json does not decode.",
    "DashFlow's load of the index fails with a deserialization error, so get_latest, list "
    "and every save of that thread fail.",
    "#17", "Run `dashfix rebuild-index URL`: it rebuilds the index from the objects, "
    "after copying the damaged one under PREFIX/dashfix-backups/.",
    baselinable=False,
)

# -- DynamoDB (spec 4.10, item 19) ---------------------------------------------------------
DYNAMODB_BEYOND_FIRST_PAGE = _rule(
    "DB590", "dynamodb-beyond-first-page", E,
    "Checkpoints lie beyond the first 1 MB page of a Scan, where DashFlow never looks.",
    "DynamoDBCheckpointer never reads LastEvaluatedKey: its load is one Scan page with a "
    "filter, so load returns None for every checkpoint past the first 1 MB of the table, "
    "and list and delete_thread see one page too.",
    "-", _REPORT_ONLY + "the checkpoints are there; DashFlow cannot find them until it "
    "paginates (upgrade), or the table shrinks below 1 MB.",
)
DYNAMODB_ID_TWO_THREADS = _rule(
    "DB591", "dynamodb-id-under-two-threads", E,
    "One checkpoint_id is stored under several thread_ids.",
    "The key is (thread_id, checkpoint_id), so a colliding id of another thread does not "
    "overwrite but sits beside it; DashFlow's load(id) returns whichever its Scan meets "
    "first, possibly the other thread's checkpoint (#6).",
    "#6", _REPORT_ONLY + "after a backup, remove the item that does not belong (`aws "
    "dynamodb delete-item --table-name TABLE --key '{\"thread_id\": {\"S\": \"THREAD\"}, "
    "\"checkpoint_id\": {\"S\": \"ID\"}}'`).",
)

RULES = (
    SOURCE_UNREACHABLE, LATEST_MISSING, LATEST_NOT_NEWEST, LATEST_AMBIGUOUS, SAME_UNIT_ORDER,
    ID_THREAD_MOVED, ROW_UNDECODABLE, STATE_UNDECOMPRESSABLE, SQLITE_INTEGRITY,
    SQLITE_ORPHAN_METADATA, SQLITE_REPLACED,
    SQLITE_SCHEMA, SQLITE_MISSING_INDEX, POSTGRES_TABLE, POSTGRES_METADATA_NULL,
    POSTGRES_METADATA_NOT_OBJECT, POSTGRES_TIMESTAMP_CLAMPED, POSTGRES_COMPOSITE_INDEX,
    POSTGRES_INDEX_MISSING, REDIS_MEMBER_WITHOUT_HASH, REDIS_HASH_WITHOUT_MEMBER,
    REDIS_SCORE_MISMATCH, REDIS_THREAD_MISMATCH, REDIS_THREAD_WITHOUT_ZSET,
    S3_INDEX_ENTRY_MISSING, S3_OBJECT_NOT_INDEXED, S3_INDEX_ORDER, S3_INDEX_DUPLICATE,
    S3_OBJECT_MISMATCH, S3_INDEX_UNDECODABLE, DYNAMODB_BEYOND_FIRST_PAGE,
    DYNAMODB_ID_TWO_THREADS,
)
