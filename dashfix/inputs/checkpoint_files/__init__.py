"""Reading a checkpoint store folder: one pass, one read per file, one compact record each.

``scan.scan_store`` lists the folder once (``native.list_folder``: names sorted, never
following a symlink) and reads every store file once (relative to the folder's descriptor,
``O_NOFOLLOW``), on the CPUs of ``reader_pool``. ``file_reader.summarise_file`` checks one
file and returns a ``FileRecord`` (``variants`` decodes its bytes): a tuple of primitives
that can be cached (msgpack) and compared across files without keeping any payload. A whole
store is kept as columns (``dashfix.inputs.checkpoint_rows.StoreRows``): a healthy plain
DCHK checkpoint, nearly every file, goes straight from its bytes to a row without a record.
The cross-file checks in ``dashfix.checks.checkpoint`` only see these rows and records.

``identity`` holds the identity flags of a record, ``discovery`` how a folder or file is
told to be a store. The latest checkpoint of a thread is ``dashfix.inputs.latest``'s.
"""
