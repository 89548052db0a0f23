"""Pure bytes <-> values for DashFlow checkpoint stores: no file I/O policy, no printing.

* ``bincode``: bounded bincode-1 reader/writer and ``DecodeError``.
* ``dchk``: the 20-byte integrity header and DashFlow's integrity errors.
* ``checkpoint``: ``Checkpoint<S>`` head and tail parse.
* ``index``: ``index.bin``.
* ``ids``: checkpoint id schemes and path safety.
* ``variants``: file variants (gzip, versioned, legacy JSON, temps) and classification.
"""
