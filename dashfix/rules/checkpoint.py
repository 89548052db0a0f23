"""CK1xx: DashFlow file checkpoint stores (FileCheckpointer and its file variants)."""

from dashfix.findings import Rule, Severity

_F = "checkpoint"


def _rule(code: str, name: str, severity: Severity, summary: str, explanation: str, bug: str,
          fix: str, *, baselinable: bool = True, unreadable: bool = False) -> Rule:
    return Rule(code, name, severity, _F, summary, explanation, bug, fix, baselinable, unreadable)


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_QUARANTINE = ("`dashfix repair STORE` (the plan, then `--apply`)"
               " moves the file into the store's quarantine "
               "folder (nothing is deleted); restore an older copy from a backup if you have one.")
_REBUILD = "`dashfix rebuild-index STORE` (with every DashFlow process on this store stopped)."
_SKIPPED = ("DashFlow's list and file scan skip it with a warning; delete_thread aborts on it "
            "(#7), and get_latest/resume fail if the index points at it.")

# -- before any parse -------------------------------------------------------------------------
ZERO_FILLED = _rule(
    "CK100", "zero-filled", E, "A checkpoint file holds nothing but zero bytes: a crash leftover.",
    "The file was extended but its data never reached the disk: a crash between the size "
    "change and the write-back (delayed allocation), or a legacy writer without temp file and "
    "fsync. It holds no DCHK header and no ids, so DashFlow reads it as legacy bincode and "
    "fails with DeserializationFailed. It is found before any parse. " + _SKIPPED,
    "#18", _QUARANTINE, baselinable=False,
)
# -- header integrity (spec 2.2, section 8 item 1) -------------------------------------------
FILE_TOO_SMALL = _rule(
    "CK101", "file-too-small", E, "A DCHK checkpoint file is shorter than its 20-byte header.",
    "The file starts with the DCHK magic but ends before the header does, usually a write cut "
    "short. DashFlow raises FileTooSmall. " + _SKIPPED,
    "#18", _QUARANTINE, baselinable=False,
)
UNSUPPORTED_VERSION = _rule(
    "CK102", "unsupported-version", E, "A DCHK header declares a format version above 1.",
    "DashFlow accepts versions 0 and 1 only and raises UnsupportedVersion otherwise: the "
    "header is damaged or a newer writer produced the file. " + _SKIPPED,
    "#18", _QUARANTINE, baselinable=False,
)
LENGTH_MISMATCH = _rule(
    "CK103", "length-mismatch", E,
    "The payload length in the DCHK header differs from the bytes in the file.",
    "The file was truncated, or bytes were appended to it, after it was written. DashFlow "
    "raises LengthMismatch. " + _SKIPPED,
    "#18", _QUARANTINE, baselinable=False,
)
CHECKSUM_MISMATCH = _rule(
    "CK104", "checksum-mismatch", E, "The CRC-32 of the payload differs from the header's.",
    "The payload bytes changed after the file was written (disk or copy damage). DashFlow "
    "raises ChecksumMismatch. " + _SKIPPED,
    "#18", _QUARANTINE, baselinable=False,
)
DAMAGED_MAGIC = _rule(
    "CK105", "damaged-magic", E, "Only the DCHK magic of a checkpoint is damaged.",
    "Version 1, an exact payload length and a matching CRC prove the header, but the first 4 "
    "bytes are not `DCHK`. DashFlow then reads the file as legacy bincode and fails with "
    "DeserializationFailed. The payload is intact.",
    "#18", "`dashfix repair STORE` (the plan, then `--apply`)"
           " rewrites the 4 magic bytes (the old file is kept "
    "in quarantine).", baselinable=False,
)
VERSION_ZERO = _rule(
    "CK106", "header-version-zero", INFO, "A DCHK header declares format version 0.",
    "DashFlow only writes version 1 but accepts 0 because it checks `version > 1`. A 0 points "
    "to a foreign writer or a damaged header whose CRC still matches.",
    "-", "Nothing to do unless other files of this writer show problems.",
)
# -- legacy files and payloads (items 2, 4, 20) ----------------------------------------------
LEGACY_UNVERIFIABLE = _rule(
    "CK107", "legacy-unverifiable", W, "A legacy checkpoint file has no integrity header.",
    "Files written before the DCHK header (#18) carry no CRC or length, so damage inside the "
    "state cannot be detected. The ids and the tail (node, timestamp, parent) did parse "
    "completely, so the file is consistent as far as can be seen.",
    "#18", "Keep it, or re-save the thread with a current DashFlow so it gets a DCHK header.",
)
LEGACY_TRUNCATED = _rule(
    "CK108", "legacy-truncated", E, "A legacy (headerless) checkpoint file is cut short.",
    "The old writer used File::create with no temp file and no fsync, so a crash leaves a "
    "partial file. Its fields run off the end of the file. " + _SKIPPED,
    "#18", _QUARANTINE, baselinable=False,
)
LEGACY_TRAILING_GARBAGE = _rule(
    "CK109", "legacy-trailing-garbage", E,
    "A legacy checkpoint file has bytes after the end of the checkpoint.",
    "The tail parse ends before the end of the file. bincode's plain functions accept trailing "
    "bytes, so DashFlow loads the file silently, but the extra bytes mean the file was "
    "overwritten partially or appended to.",
    "#18", _QUARANTINE, baselinable=False,
)
PAYLOAD_UNDECODABLE = _rule(
    "CK110", "payload-undecodable", E,
    "A checkpoint's payload does not decode (ids, Versioned fields or JSON).",
    "The integrity check (CRC, gzip trailer) passed or there is none, but the bincode fields "
    "do not decode: a length runs past the end, a string is not UTF-8, or fields are missing. "
    "DashFlow fails with DeserializationFailed. " + _SKIPPED,
    "#7", _QUARANTINE, baselinable=False,
)
TAIL_UNPARSED = _rule(
    "CK111", "tail-unparsed", W,
    "Node, timestamp and parent could not be recovered from a checkpoint.",
    "No reading of the bytes after the state ends exactly at the end of the payload with a "
    "plausible node, timestamp (2000-2100, nanos < 1e9), parent and metadata. The file may "
    "carry a huge metadata map or a different layout; it is left out of the latest-checkpoint "
    "and chain checks.",
    "-", "Inspect it with `dashfix inspect FILE`.",
)
TAIL_AMBIGUOUS = _rule(
    "CK112", "tail-ambiguous", INFO,
    "Node, timestamp and parent of a checkpoint can be read in more than one way.",
    "State bytes happen to parse as a tail too, so which reading DashFlow would decode cannot "
    "be told without the state type. The file is left out of the latest-checkpoint and "
    "chain checks.",
    "-", "Inspect it with `dashfix inspect FILE`.",
)
NAME_ID_MISMATCH = _rule(
    "CK113", "name-id-mismatch", E, "A checkpoint's file name is not its embedded id + `.bin`.",
    "DashFlow's load(id) opens `{id}.bin`, while the file scan reports the embedded id: the "
    "file was copied or renamed by hand, or written by a foreign tool. get_latest can then "
    "name a checkpoint that load cannot find.",
    "-", "Rename the file to `{embedded id}.bin`, or quarantine it with "
    "`dashfix repair STORE` (the plan, then `--apply`).",
)
ID_THREAD_MISMATCH = _rule(
    "CK114", "id-thread-mismatch", W,
    "A checkpoint id does not belong to its embedded thread_id.",
    "Under the counter and current id schemes the id starts with `thread_id + '_'`. A "
    "different prefix means a foreign writer, or an upsert that rewrote thread_id.",
    "#6", "Find the writer; the file is loadable but its thread is suspect.",
)
FOREIGN_BIN = _rule(
    "CK115", "foreign-bin-file", E,
    "A `*.bin` file in the store is not a checkpoint of any DashFlow writer.",
    "DashFlow lists every `*.bin` except index.bin as a checkpoint. This one is empty, random, "
    "or another format (for example the bare-state backups of the TROUBLESHOOTING recipe). "
    + _SKIPPED,
    "#7", _QUARANTINE, baselinable=False,
)
BIN_DIRECTORY = _rule(
    "CK116", "bin-directory", E, "A folder inside the store is named `*.bin`.",
    "DashFlow's list_files takes it for a checkpoint file; reading it fails. " + _SKIPPED,
    "#7", "Move the folder out of the store (`dashfix repair STORE` (the plan, then `--apply`)"
          " quarantines it).",
)
BIN_SPECIAL_FILE = _rule(
    "CK127", "bin-special-file", E,
    "A FIFO, socket or device inside the store is named like a checkpoint file.",
    "DashFlow's list_files takes every `*.bin` entry for a checkpoint and reads it whole: on a "
    "FIFO the read waits for a writer forever, so list, the file scan behind get_latest and "
    "delete_thread hang; a socket cannot be opened; a device gives whatever it holds. dashfix "
    "never opens it. " + _SKIPPED,
    "#7", "`dashfix repair STORE` shows the plan; `dashfix repair STORE --apply` moves the entry "
    "into the store's quarantine folder (`--restore SESSION` puts it back).",
)
SYMLINK_IN_STORE = _rule(
    "CK117", "symlink-in-store", E, "A symbolic link inside a checkpoint store.",
    "dashfix never follows it, so its target was not checked. DashFlow follows it, possibly "
    "outside the store, and a dangling or foreign target breaks listing and delete_thread. "
    "Named like a checkpoint (`*.bin`, `*.v.bin`, `*.bin.gz`, `*.v.bin.gz`) or `index.bin`, "
    "DashFlow reads through it (a link to /dev/zero hangs it): an error. Any other symlink, "
    "`.checkpoint.lock` included: a warning.",
    "#7", "Replace the link with the file it points to, or move it out of the store "
    "(`dashfix repair STORE --apply` moves a link named like a checkpoint or index.bin into "
    "quarantine; its target is never touched).",
)
FILE_UNREADABLE = _rule(
    "CK118", "file-unreadable", E, "A file in the store could not be read.",
    "Permission denied, an I/O error, or a file too large to check. Nothing in it was "
    "verified, so the run cannot be called clean (exit code 3). DashFlow fails on it the same "
    "way: " + _SKIPPED,
    "#7", "Fix the permissions (DashFlow's user must read every file) and run verify again.",
    baselinable=False, unreadable=True,
)
PATH_UNSAFE_ID = _rule(
    "CK119", "path-unsafe-id", E,
    "A checkpoint id or thread_id contains `/`, `\\`, `..`, `:` or a NUL byte.",
    "DashFlow joins the id to the store folder without escaping: such ids write files in "
    "nested or absolute paths outside the store, invisible to list and the file scan.",
    "-", "Sanitise thread ids before passing them to DashFlow; look for stray files outside "
    "the store.",
)
PATH_UNSAFE_INDEX_ENTRY = _rule(
    "CK120", "path-unsafe-index-entry", E,
    "An index.bin entry names a thread or checkpoint id that is not a safe file name.",
    "load(id) joins the id to the store folder, so the index leads DashFlow to a file outside "
    "the store (a leading `/` discards the folder altogether). dashfix never follows it.",
    "-", _REBUILD,
)
# -- temps (item 7) ----------------------------------------------------------------------------
TEMP_PROMOTABLE = _rule(
    "CK121", "orphan-temp-promotable", W,
    "An orphan checkpoint temp file is complete and its target is missing.",
    "DashFlow died between writing `.{id}.bin.{uuid}.tmp` and renaming it. The temp is a "
    "complete, CRC-valid DCHK file and `{id}.bin` does not exist, so the checkpoint can be "
    "recovered by renaming it.",
    "#5", "`dashfix repair STORE` (the plan, then `--apply`)"
          " promotes it to `{id}.bin` and rebuilds the index.",
)
TEMP_ORPHAN = _rule(
    "CK122", "orphan-temp", W, "An orphan temp file that cannot be promoted.",
    "A checkpoint temp that is incomplete or damaged, or whose target already exists, or an "
    "index temp (`.index.{uuid}.tmp`, `.index.bin.{uuid}.tmp`): a writer died mid-save. "
    "DashFlow never cleans these up.",
    "#5", "`dashfix repair STORE` (the plan, then `--apply`)"
          " moves it into the quarantine folder (nothing is "
    "deleted; `dashfix repair STORE --restore SESSION` puts it back).",
)
DASHFIX_LEFTOVER = _rule(
    "CK123", "dashfix-leftover", W,
    "A dashfix repair or rebuild-index was killed and left a temp file or an unsettled "
    "session.",
    "dashfix writes every file as a hidden temp `.{name}.{uuid}.dashfix.tmp` that it renames "
    "over the target, and journals each repair step in `.dashfix-quarantine/<session>/"
    "journal.jsonl` before it acts. A run killed between the two leaves the temp (a copy of "
    "bytes that exist elsewhere: nothing is lost) or a session whose journal has no end and "
    "no `manifest.json` yet. DashFlow never reads either.",
    "-", "`dashfix repair STORE --apply` (or `rebuild-index`, or `--restore SESSION`) removes "
    "the temps and settles the session from its journal; `dashfix repair STORE --restore "
    "list` shows the session, `--restore SESSION` undoes what it did.",
)
# -- index (items 6, 8, 9) -------------------------------------------------------------------
INDEX_CORRUPT = _rule(
    "CK124", "index-corrupt", E, "index.bin does not decode.",
    "DashFlow will silently start with an empty index and overwrite this file on next save: "
    "the threads it does not touch vanish from list_threads (#17).",
    "#17", _REBUILD, baselinable=False,
)
INDEX_MISSING = _rule(
    "CK125", "index-missing", W, "The store holds checkpoints but no index.bin.",
    "DashFlow starts with an empty index: get_latest falls back to a file scan, but "
    "list_threads shows no thread until each one is saved again.",
    "#17", _REBUILD,
)
INDEX_NOT_A_FILE = _rule(
    "CK126", "index-not-a-file", E,
    "index.bin is a folder, FIFO, socket or device, not a regular file.",
    "DashFlow reads index.bin once, when the checkpointer is made, and replaces it on every "
    "save by renaming a temp over it. A folder makes that rename fail, so every save fails; a "
    "FIFO makes the constructor wait for a writer forever; a socket cannot be opened, and a "
    "device gives whatever it holds (nothing, or endless bytes), so DashFlow starts with an "
    "empty index (#17) or never starts. `dashfix rebuild-index` will not replace such an "
    "entry, and dashfix never opens it.",
    "#17", "`dashfix repair STORE` shows the plan; `dashfix repair STORE --apply` moves the "
    "entry into the store's quarantine folder (`--restore SESSION` puts it back) and writes a "
    "new index.bin from the checkpoint files.", baselinable=False,
)
LOCK_NOT_A_FILE = _rule(
    "CK128", "lock-not-a-file", E,
    "`.checkpoint.lock` is a folder, FIFO, socket or device, not a regular file.",
    "DashFlow takes its store lock on every index write (after each save, delete and "
    "delete_thread) by opening `.checkpoint.lock` read-write, creating it if missing, and "
    "`flock`-ing it. A folder or a socket cannot be opened that way, so every one of those "
    "writes fails: the checkpoint file is written but the save returns an error and index.bin "
    "is never updated again (list_threads misses every new thread). A FIFO or device opens and "
    "locks on Linux, but it is no lock file DashFlow creates (an empty regular file): something "
    "else put it there, and a device is opened read-write by every save. dashfix never opens "
    "it, and `dashfix repair` and `rebuild-index`, which take the same lock, stop with exit "
    "code 3 before changing anything.",
    "-", "Stop every DashFlow process on the store, move the entry out of the store (DashFlow "
    "creates a new lock file at its next save), then run `dashfix verify` again.",
    baselinable=False,
)
INDEX_THREAD_MISSING = _rule(
    "CK130", "index-thread-missing", W, "A thread has checkpoint files but no index entry.",
    "list_threads reads only the index, so the thread is invisible to it; get_latest falls "
    "back to a file scan.",
    "#20", _REBUILD,
)
INDEX_ENTRY_FILE_MISSING = _rule(
    "CK131", "index-entry-file-missing", E, "An index entry names a checkpoint file that is gone.",
    "The checkpoint DashFlow recorded as the thread's latest no longer exists: committed data "
    "is gone. get_latest falls back to a file scan, which resumes from whatever older "
    "checkpoint is left, or from nothing.",
    "#20", _REBUILD,
)
INDEX_ENTRY_CORRUPT_FILE = _rule(
    "CK132", "index-entry-corrupt-file", E, "An index entry names a checkpoint that fails to load.",
    "get_latest/resume return the load error with no fallback, and ResumeRunner silently "
    "restarts the workflow from scratch.",
    "#20", "Quarantine the file and rebuild the index: `dashfix repair STORE` (the plan, "
           "then `--apply`).",
)
INDEX_ENTRY_STALE = _rule(
    "CK133", "index-entry-stale", E,
    "An index entry names an older checkpoint than the newest file of its thread.",
    "get_latest returns the indexed checkpoint even when newer files exist, so resume "
    "continues from stale state. Causes: a crash between file write and index save, or "
    "several processes overwriting each other's index (#5).",
    "#20", _REBUILD,
)
INDEX_TIMESTAMP_MISMATCH = _rule(
    "CK134", "index-timestamp-mismatch", W,
    "An index entry's timestamp differs from the embedded timestamp of its checkpoint.",
    "The file was rewritten after the index was saved (an id collision) or something wrote "
    "older content under the same id. DashFlow compares later saves against the index value, "
    "so newer checkpoints can fail to replace the entry.",
    "#6", _REBUILD,
)
INDEX_THREAD_WITHOUT_FILES = _rule(
    "CK135", "index-thread-without-files", E, "An index entry's thread has no checkpoint files.",
    "Every checkpoint of a thread the index still lists is gone: list_threads shows it, and "
    "get_latest falls back to a scan that finds nothing, so resume starts the workflow over.",
    "#20", _REBUILD,
)
INDEX_DUPLICATE_THREAD = _rule(
    "CK136", "index-duplicate-thread", W, "index.bin holds the same thread more than once.",
    "A HashMap cannot produce this; the file was damaged or written by a foreign tool. "
    "DashFlow keeps the last entry.",
    "-", _REBUILD,
)
# -- collisions (item 11, spec 3.3) ------------------------------------------------------------
PARENT_NEWER = _rule(
    "CK140", "parent-newer-than-child", E,
    "A checkpoint's parent has a later timestamp than the checkpoint itself.",
    "The parent file was overwritten after the child was written: an id collision (#6). With "
    "`{thread}_{n}` ids a restart reuses t_0, t_1, ... and overwrites the first run's files; "
    "the current scheme can still collide across tokio worker threads. The overwritten "
    "checkpoint is lost.",
    "#6", "Upgrade DashFlow; the lost checkpoint cannot be recovered from this store.",
)
FORK = _rule(
    "CK141", "fork", W, "Two checkpoints of one thread claim the same parent.",
    "The executor saves sequentially per invocation, so a fork means an id collision or "
    "concurrent runs on one thread_id.",
    "#6", "Make sure one process at a time runs each thread_id.",
)
DANGLING_PARENT = _rule(
    "CK142", "dangling-parent", W, "A checkpoint's parent_id names no checkpoint in the store.",
    "The parent was deleted, overwritten under another id, or never reached disk.",
    "#6", "Nothing to repair; resume does not need the parent.",
)
CROSS_THREAD_PARENT = _rule(
    "CK143", "cross-thread-parent", W, "A checkpoint's parent belongs to another thread.",
    "Parent chains never cross threads in DashFlow; the parent file was overwritten by "
    "another thread's save (an id collision) or the files were mixed by hand.",
    "#6", "Find the writer that reused the id.",
)
DUPLICATE_ID = _rule(
    "CK144", "duplicate-embedded-id", W, "Several files carry the same embedded checkpoint id.",
    "Possible only with copies or variants (`X.bin` next to `X.bin.gz` or `X.v.bin`): which "
    "one DashFlow loads depends on the checkpointer, so they may disagree.",
    "#6", "Keep one copy; quarantine the others with `dashfix repair STORE` (the plan, "
          "then `--apply`).",
)
COUNTER_ORDER = _rule(
    "CK145", "counter-order-vs-time", INFO,
    "Within one process's ids, a higher counter has an earlier timestamp.",
    "A block of low counters newer than higher ones means a restart reused counters and "
    "overwrote files. Under the current `{thread}_{proc}_chkpt{n}` scheme the counter is per "
    "worker thread, so interleaving is normal: info. Under `{thread}_{n}` it is a warning. "
    "The thread's latest checkpoint is excluded (update_state re-saves it with a new time).",
    "#6", "Look for parent-newer-than-child findings on the same thread.",
)
# -- several writers (item 12) ---------------------------------------------------------------
CONCURRENT_WRITERS = _rule(
    "CK150", "concurrent-writers", W,
    "Several processes wrote the same thread during overlapping time windows.",
    "Different `{proc}` parts in the ids of one thread whose timestamp ranges overlap: two "
    "processes ran the same thread_id at once. Their in-memory indexes overwrite each other "
    "(#5) and their ids can collide.",
    "#5", "Run each thread_id in one process at a time; then " + _REBUILD,
)
UNLOCKED_VARIANT = _rule(
    "CK151", "unlocked-variant-files", W,
    "Compressed or Versioned checkpoint files share a store with FileCheckpointer files.",
    "Those variants never take `.checkpoint.lock` and write non-atomically, yet they share "
    "index.bin: their index saves race with the FileCheckpointer's.",
    "#5", "Give each checkpointer variant its own folder.",
)
DELETE_THREAD_BLOCKED = _rule(
    "CK155", "delete-thread-blocked", E,
    "Files of another checkpointer variant will make delete_thread abort.",
    "Each variant lists the others' files as checkpoints, fails to read them and skips them "
    "in list, but aborts delete_thread on the first one (#7): delete_thread fails for every "
    "thread while one such file is present. (Damaged files carry their own finding.)",
    "#7", "Give each variant its own folder, or quarantine the foreign files with "
    "`dashfix repair STORE` (the plan, then `--apply`).",
)
# -- Compressed / Versioned (item 14) --------------------------------------------------------
GZIP_CORRUPT = _rule(
    "CK160", "gzip-corrupt", E, "A `.gz` checkpoint is truncated or fails its gzip CRC/ISIZE.",
    "Compressed and Versioned writes are not atomic (File::create, no fsync), so a crash "
    "leaves a truncated stream; the gzip trailer is the file's only integrity check. "
    + _SKIPPED,
    "#5", _QUARANTINE, baselinable=False,
)
DECOMPRESSED_TOO_LARGE = _rule(
    "CK161", "decompressed-too-large", E, "A `.gz` checkpoint decompresses to more than 100 MiB.",
    "DashFlow caps decompression at 100 MiB and fails with DeserializationFailed, even though "
    "the file is valid.",
    "-", "Load it with a tool without the cap and save it uncompressed, or quarantine it.",
)
VERSIONED_DATA_NOT_JSON = _rule(
    "CK162", "versioned-data-not-json", E, "A Versioned checkpoint's `data` is not valid JSON.",
    "VersionedFileCheckpointer stores the state as JSON text; load fails on this file.",
    "-", _QUARANTINE, baselinable=False,
)
COMPRESSION_MISMATCH = _rule(
    "CK164", "compression-mismatch", W, "`.v.bin` and `.v.bin.gz` files share a store.",
    "VersionedFileCheckpointer's load only tries the extension of the current compression "
    "setting, so after a setting change the other files are listed but load returns None.",
    "-", "Keep one compression setting per store; convert or move the other files.",
)
VERSIONED_SCHEMA_VERSIONS = _rule(
    "CK165", "versioned-schema-versions", INFO,
    "Versioned checkpoints of several schema versions share a store.",
    "Each load migrates older versions through the MigrationChain; a missing migration makes "
    "load and get_latest fail. The finding lists how many files have each version.",
    "-", "Make sure the MigrationChain covers every version listed.",
)
LEGACY_JSON = _rule(
    "CK166", "legacy-json-ignored", INFO, "A legacy JSON checkpoint that DashFlow ignores.",
    "Current DashFlow reads only `.bin` files; this `{id}.json` from the pre-bincode writer "
    "is invisible to list, get_latest and delete_thread.",
    "-", "Archive it outside the store if it is still needed.",
)

RULES = (
    ZERO_FILLED, FILE_TOO_SMALL, UNSUPPORTED_VERSION, LENGTH_MISMATCH, CHECKSUM_MISMATCH,
    DAMAGED_MAGIC,
    VERSION_ZERO, LEGACY_UNVERIFIABLE, LEGACY_TRUNCATED, LEGACY_TRAILING_GARBAGE,
    PAYLOAD_UNDECODABLE, TAIL_UNPARSED, TAIL_AMBIGUOUS, NAME_ID_MISMATCH, ID_THREAD_MISMATCH,
    FOREIGN_BIN, BIN_DIRECTORY,
    BIN_SPECIAL_FILE,
    SYMLINK_IN_STORE, FILE_UNREADABLE, PATH_UNSAFE_ID,
    PATH_UNSAFE_INDEX_ENTRY, TEMP_PROMOTABLE, TEMP_ORPHAN, INDEX_CORRUPT, INDEX_MISSING,
    INDEX_NOT_A_FILE, LOCK_NOT_A_FILE,
    INDEX_THREAD_MISSING, INDEX_ENTRY_FILE_MISSING, INDEX_ENTRY_CORRUPT_FILE, INDEX_ENTRY_STALE,
    INDEX_TIMESTAMP_MISMATCH, INDEX_THREAD_WITHOUT_FILES, INDEX_DUPLICATE_THREAD, PARENT_NEWER,
    FORK, DANGLING_PARENT, CROSS_THREAD_PARENT, DUPLICATE_ID, COUNTER_ORDER, CONCURRENT_WRITERS,
    UNLOCKED_VARIANT, DELETE_THREAD_BLOCKED, GZIP_CORRUPT, DECOMPRESSED_TOO_LARGE,
    VERSIONED_DATA_NOT_JSON, COMPRESSION_MISMATCH, VERSIONED_SCHEMA_VERSIONS, LEGACY_JSON,
    DASHFIX_LEFTOVER,
)
